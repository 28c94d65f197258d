/**
 * Everything a capture reads of /proc after its tasks, handed to the thread that writes
 * it in the order it must be written: first whether each fd table could be listed,
 * then the details of every process, then the fd tables, each placed on its open
 * files, and last the sockets met.
 *
 * For a capture of many processes, with the compiled worker at hand
 * (captureWorker.ts), another thread lists the fd tables, then reads and places their
 * fds (kcmp) and reads the sockets, while this one reads the details of the processes
 * and writes: on two cores the two halves of a large capture take about as long as each
 * other. The worker stops reading ahead when the tables it
 * placed wait unwritten (PLACE_AHEAD_FDS), so memory stays flat however many fds there
 * are. Otherwise (a few processes, or running from TypeScript sources) the same steps
 * run here, one after the other.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Kcmp } from '../kcmp.js';
import { DetailsReader, type ProcessDetails, type ProcessPlan } from './details.js';
import { listFdTable, readTable, type InodeCache, type TableState } from './fdRecords.js';
import { FilePlacer } from './filePlacer.js';
import type { CapturePart } from './options.js';
import { placeTable, type PlacedTable } from './placedTable.js';
import { ProcReadError } from './procfs.js';
import { holdYoungGeneration } from '../../store/writer/youngGeneration.js';
import { readSockets, type SocketSeen, type SocketsRead } from './sockets.js';

export interface CapturePlan {
  processes: ProcessPlan[];
  tables: TableState[];
  skip: CapturePart[];
  withEnv: boolean;
  /** Whether kcmp may be used (the worker binds it itself). */
  kcmp: boolean;
}

export interface SourceEnd {
  sockets: SocketsRead;
  /** kcmp calls made by another thread to place fds. */
  kcmpCalls: number;
}

export interface CaptureSource {
  /** Hands the source what to read; the reading starts. */
  begin(plan: CapturePlan): void;
  /** Why each table's fds could not be listed (by table index), null where they could. */
  listed(): Promise<(string | null)[]>;
  /** The next processes' details, in plan order; null after the last. */
  nextDetails(): Promise<ProcessDetails[] | null>;
  /** The next fd table, in table order; null after the last. */
  nextTable(): Promise<PlacedTable | null>;
  /** Tells the reader that a table has been written: it may read further ahead. */
  written(): void;
  /** After the last table: what the kernel shows of the sockets met. */
  end(): Promise<SourceEnd>;
  close(): Promise<void>;
}

/** How a table's listing went: its fd numbers, or why not. */
export type Listing = { fds: number[] } | { denied: string } | { gone: true };

/** Slots of the counters the threads share. */
export const S_WRITTEN = 0;
export const S_STOP = 1;
export const S_SLOTS = 2;

/**
 * How far the worker places ahead of the writing thread: at most this many fds, in at
 * most this many tables, wait unwritten. Enough to keep it reading all through the
 * details of the processes (a few hundred ms, when it would otherwise stop after a few
 * tables), few enough that what waits stays some MiB however large the capture.
 */
export const PLACE_AHEAD_FDS = 8192;
export const PLACE_AHEAD_TABLES = 1024;

/** The worker's young generation, in MiB: measured, smaller costs more collections than it saves. */
const YOUNG_GENERATION_MB = 4;

/** Processes whose details are read and written together: so few that what is held stays small. */
const DETAILS_BATCH = 32;

/** The details of the plan's processes, a batch at a time. */
class DetailsBatches {
  private next = 0;
  private readonly reader: DetailsReader;

  constructor(private readonly plan: CapturePlan, denied: readonly (string | null)[]) {
    this.reader = new DetailsReader({ skip: new Set(plan.skip), withEnv: plan.withEnv }, (t) => denied[t] ?? null);
  }

  take(): ProcessDetails[] | null {
    const { processes } = this.plan;
    if (this.next >= processes.length) return null;
    const batch: ProcessDetails[] = [];
    for (const end = Math.min(processes.length, this.next + DETAILS_BATCH); this.next < end; this.next++) {
      const d = this.reader.read(processes[this.next]!);
      if (d) batch.push(d);
    }
    return batch;
  }
}

/** Processes from which a capture is read by the worker: below, its start costs more than it saves. */
export const WORKER_FROM = 64;

const WORKER = new URL('./captureWorker.js', import.meta.url);

/**
 * Opens the source for a capture of these processes, before their tasks are read: the
 * worker starts now and, while this thread reads the tasks, lists the fd directories
 * of the processes (unless `listEarly` is false), which most fd tables are read
 * through; then it waits for begin(). A small capture is read here: the processes of a
 * tree that churns would be gone before a worker had started.
 */
export function openCaptureSource(pids: readonly number[], kcmp: Kcmp | null, listEarly: boolean): CaptureSource {
  return pids.length >= WORKER_FROM && existsSync(fileURLToPath(WORKER)) ? new WorkerSource(listEarly ? pids : []) : new InlineSource(kcmp);
}

/** Listings of fd directories made before the tables were known, by the tid listed. */
export type EarlyListings = ReadonlyMap<number, Listing>;

/** The listing of each tid's fd directory, as a table read through that tid alone would list it. */
export function listEarly(tids: readonly number[]): EarlyListings {
  return new Map(tids.map((tid) => [tid, listTable({ name: tid, holder: tid, users: [tid], kcmpable: false })]));
}

/**
 * Listing of every table, in order; outcome per table. A table read through a task
 * listed early takes that listing: its fds are read after it either way, and what
 * closed meanwhile is skipped as vanished, as after any listing.
 */
export function listTables(tables: TableState[], skipFds: boolean, early: EarlyListings = new Map()): Listing[] {
  return tables.map((t) => {
    if (skipFds) return { fds: [] };
    const listed = early.get(t.holder);
    return listed && !('gone' in listed) ? listed : listTable(t);
  });
}

function listTable(t: TableState): Listing {
  try {
    const fds = listFdTable(t);
    return fds === null ? { gone: true } : { fds };
  } catch (e) {
    if (!(e instanceof ProcReadError)) throw e;
    return { denied: e.reason };
  }
}

export function deniedOf(listings: readonly Listing[]): (string | null)[] {
  return listings.map((l) => ('denied' in l ? l.denied : null));
}

/**
 * The reading, step by step: listing, details, then each table read and placed.
 * Runs in the worker, or on the writing thread itself.
 */
export class Reading {
  readonly listings: Listing[];
  /** Dropped once every table is placed: the sockets are read in the room it held. */
  private placer: FilePlacer | null;
  private readonly inodes: InodeCache = new Map();
  private readonly sockets: SocketSeen[] = [];

  constructor(private readonly plan: CapturePlan, private readonly kcmp: Kcmp | null, early?: EarlyListings) {
    this.listings = listTables(plan.tables, plan.skip.includes('fds'), early);
    this.placer = new FilePlacer(kcmp, plan.tables);
  }

  table(index: number): PlacedTable {
    const listing = this.listings[index]!;
    const table = this.plan.tables[index]!;
    // the fd numbers of a table read are needed no more: a capture of 200,000 fds held them all
    if ('fds' in listing) this.listings[index] = { fds: [] };
    const read = readTable(table, 'fds' in listing ? listing.fds : [], this.inodes);
    return placeTable(this.placer!, index, table, read, this.sockets);
  }

  end(ownKcmp: boolean): SourceEnd {
    this.placer = null;
    const sockets = this.plan.skip.includes('sockets') ? { details: new Map(), sources: [] } : readSockets(this.sockets);
    return { sockets, kcmpCalls: ownKcmp ? (this.kcmp?.calls ?? 0) : 0 };
  }
}

class InlineSource implements CaptureSource {
  private reading!: Reading;
  private plan!: CapturePlan;
  private details: DetailsBatches | null = null;
  private next = 0;

  constructor(private readonly kcmp: Kcmp | null) {}

  begin(plan: CapturePlan): void {
    this.plan = plan;
    this.reading = new Reading(plan, this.kcmp);
  }

  listed(): Promise<(string | null)[]> {
    return Promise.resolve(deniedOf(this.reading.listings));
  }

  nextDetails(): Promise<ProcessDetails[] | null> {
    this.details ??= new DetailsBatches(this.plan, deniedOf(this.reading.listings));
    return Promise.resolve(this.details.take());
  }

  nextTable(): Promise<PlacedTable | null> {
    const index = this.next++;
    return Promise.resolve(index < this.plan.tables.length ? this.reading.table(index) : null);
  }

  written(): void {}

  end(): Promise<SourceEnd> {
    // this thread's kcmp counts the placing calls with its own
    return Promise.resolve(this.reading.end(false));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Messages of the worker to this thread. */
export type WorkerMessage =
  | { kind: 'listed'; denied: (string | null)[] }
  | { kind: 'table'; table: PlacedTable }
  /** Consecutive tables, in order: as the worker sends them. */
  | { kind: 'tables'; tables: PlacedTable[] }
  | { kind: 'end'; end: SourceEnd }
  | { kind: 'failed'; message: string; stack?: string };

/** What the worker is sent to start. */
export interface WorkerStart {
  plan: CapturePlan;
  shared: SharedArrayBuffer;
}

/** What the worker is started with: the tids whose fd directories it lists while it waits. */
export interface WorkerData {
  listEarly: readonly number[];
}

class WorkerSource implements CaptureSource {
  private plan!: CapturePlan;
  private details: DetailsBatches | null = null;
  private readonly worker: Worker;
  private readonly shared = new SharedArrayBuffer(S_SLOTS * 4);
  private readonly counters = new Int32Array(this.shared);
  private readonly inbox: WorkerMessage[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private tablesLeft = 0;
  private releaseYoung: (() => void) | null = null;
  private closed = false;

  constructor(listEarly: readonly number[]) {
    // The netlink sockets it opens through koffi are closed with fs.closeSync, which a
    // tracked worker would warn about. What it keeps lives long and what it makes dies
    // young: a small young generation keeps its memory flat (the default lets it grow
    // to 32 MiB before it collects).
    const workerData: WorkerData = { listEarly };
    this.worker = new Worker(WORKER, { workerData, trackUnmanagedFds: false, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    // the worker resets the hold the checkpoint writer took on this thread's young generation (youngGeneration.ts)
    this.worker.once('online', () => {
      if (!this.closed) this.releaseYoung = holdYoungGeneration();
    });
    this.worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'failed') {
        this.failure = new Error(m.message);
        if (m.stack) this.failure.stack = m.stack;
      } else if (m.kind === 'tables') {
        for (const table of m.tables) this.inbox.push({ kind: 'table', table });
      } else {
        this.inbox.push(m);
      }
      this.wake();
    });
    this.worker.on('error', (e) => {
      this.failure = e;
      this.wake();
    });
  }

  begin(plan: CapturePlan): void {
    this.plan = plan;
    this.tablesLeft = plan.tables.length;
    const start: WorkerStart = { plan: { ...plan, processes: [] }, shared: this.shared };
    this.worker.postMessage(start);
  }

  async listed(): Promise<(string | null)[]> {
    const { denied } = await this.take('listed');
    this.details = new DetailsBatches(this.plan, denied);
    return denied;
  }

  nextDetails(): Promise<ProcessDetails[] | null> {
    return Promise.resolve(this.details!.take());
  }

  async nextTable(): Promise<PlacedTable | null> {
    if (this.tablesLeft === 0) return null;
    this.tablesLeft--;
    return (await this.take('table')).table;
  }

  written(): void {
    Atomics.add(this.counters, S_WRITTEN, 1);
    Atomics.notify(this.counters, S_WRITTEN);
  }

  async end(): Promise<SourceEnd> {
    return (await this.take('end')).end;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.releaseYoung?.();
    Atomics.store(this.counters, S_STOP, 1);
    Atomics.notify(this.counters, S_WRITTEN);
    await this.worker.terminate();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next message, which must be of one of these kinds. */
  private async take<K extends WorkerMessage['kind']>(...kinds: K[]): Promise<Extract<WorkerMessage, { kind: K }>> {
    while (this.inbox.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const m = this.inbox.shift()!;
    if (!(kinds as string[]).includes(m.kind)) throw new Error(`capture reader: expected ${kinds.join(' or ')}, got ${m.kind}`);
    return m as Extract<WorkerMessage, { kind: K }>;
  }
}
