/**
 * Everything a capture reads of /proc after its tasks, handed to the thread that writes
 * it in the order it must be written: first whether each fd table could be listed,
 * then the details of every process, then the fd tables, each placed on its open
 * files.
 *
 * For a capture of many processes, with the compiled workers at hand
 * (captureWorker.ts), two threads do the reading
 * while this one writes: the reader lists the tables and reads the processes' details,
 * then joins the placer in reading fd tables; the placer reads tables too, and places
 * every table's fds in table order (it alone holds the sharing found so far, and kcmp
 * is asked from it). Tables are claimed one at a time from a shared counter, so
 * whichever thread is free reads the next one. Both stop reading ahead when their
 * results wait unwritten (a window of tables), so memory stays flat however many fds
 * there are. Otherwise (a few processes, or running from TypeScript sources) the same
 * steps run here, one after the other.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Kcmp } from '../kcmp.js';
import { DetailsReader, type ProcessDetails, type ProcessPlan } from './details.js';
import { listFdTable, readTable, type InodeCache, type TableState } from './fdRecords.js';
import { FilePlacer } from './filePlacer.js';
import type { CapturePart } from './options.js';
import { placeTable, type PlacedTable } from './placedTable.js';
import { ProcReadError } from './procfs.js';
import { readSockets, type SocketSeen, type SocketsRead } from './sockets.js';

export interface CapturePlan {
  processes: ProcessPlan[];
  tables: TableState[];
  skip: CapturePart[];
  withEnv: boolean;
  /** Whether kcmp may be used (the placer binds it itself). */
  kcmp: boolean;
}

export interface SourceEnd {
  sockets: SocketsRead;
  kcmpCalls: number;
}

/** How a table's listing went: its fd numbers, or why not. */
export type Listing = { fds: number[] } | { denied: string } | { gone: true };

export interface CaptureSource {
  /** Hands the source what to read; the readers start. */
  begin(plan: CapturePlan): void;
  /** Why each table's fds could not be listed (by table index), null where they could. */
  listed(): Promise<(string | null)[]>;
  /** The next processes' details, in plan order; null after the last. */
  nextDetails(): Promise<ProcessDetails[] | null>;
  /** The next fd table, in table order; null after the last. */
  nextTable(): Promise<PlacedTable | null>;
  /** After the last table: what the kernel shows of the sockets met, and the kcmp calls made to place fds. */
  end(): Promise<SourceEnd>;
  /** Tells the readers that a table has been written: they may read further ahead. */
  written(): void;
  close(): Promise<void>;
}

/** Slots of the counters the threads share. */
export const S_CLAIM = 0;
export const S_LISTED = 1;
export const S_PLACED = 2;
export const S_WRITTEN = 3;
/** Bumped (and notified) whenever the reader hands the placer something. */
export const S_READER_POSTED = 4;
export const S_STOP = 5;
export const S_SLOTS = 6;

/** Tables read ahead of the last one placed, by both readers together. */
export const READ_AHEAD = 8;
/** Tables placed ahead of the last one written. */
export const PLACE_AHEAD = 16;

const WORKER = new URL('./captureWorker.js', import.meta.url);

/** Processes from which a capture is read by the workers: below, their start costs more than they save. */
export const WORKERS_FROM = 64;

/**
 * Opens the source for a capture of this many processes, before their tasks are read:
 * the workers start now, while the tasks are read, and wait for begin(). A small
 * capture is read here: the processes of a tree that churns would be gone before a
 * worker had started.
 */
export function openCaptureSource(processes: number, kcmp: Kcmp | null): CaptureSource {
  return processes >= WORKERS_FROM && existsSync(fileURLToPath(WORKER)) ? new WorkerSource() : new InlineSource(kcmp);
}

/** Listing of every table, in order; outcome per table. */
export function listTables(tables: TableState[], skipFds: boolean): Listing[] {
  return tables.map((t) => {
    if (skipFds) return { fds: [] };
    try {
      const fds = listFdTable(t);
      return fds === null ? { gone: true } : { fds };
    } catch (e) {
      if (!(e instanceof ProcReadError)) throw e;
      return { denied: e.reason };
    }
  });
}

export function deniedOf(listings: readonly Listing[]): (string | null)[] {
  return listings.map((l) => ('denied' in l ? l.denied : null));
}

class InlineSource implements CaptureSource {
  private plan!: CapturePlan;
  private placer!: FilePlacer;
  private listings: Listing[] = [];
  private detailsDone = false;
  private next = 0;
  private readonly inodes: InodeCache = new Map();
  private readonly sockets: SocketSeen[] = [];

  constructor(private readonly kcmp: Kcmp | null) {}

  begin(plan: CapturePlan): void {
    this.plan = plan;
    this.placer = new FilePlacer(this.kcmp, plan.tables);
  }

  listed(): Promise<(string | null)[]> {
    this.listings = listTables(this.plan.tables, this.plan.skip.includes('fds'));
    return Promise.resolve(deniedOf(this.listings));
  }

  nextDetails(): Promise<ProcessDetails[] | null> {
    if (this.detailsDone) return Promise.resolve(null);
    this.detailsDone = true;
    const denied = deniedOf(this.listings);
    const reader = new DetailsReader({ skip: new Set(this.plan.skip), withEnv: this.plan.withEnv }, (t) => denied[t] ?? null);
    return Promise.resolve(this.plan.processes.map((p) => reader.read(p)).filter((d): d is ProcessDetails => d !== null));
  }

  nextTable(): Promise<PlacedTable | null> {
    const index = this.next++;
    const table = this.plan.tables[index];
    if (!table) return Promise.resolve(null);
    const listing = this.listings[index]!;
    const read = readTable(table, 'fds' in listing ? listing.fds : [], this.inodes);
    return Promise.resolve(placeTable(this.placer, index, table, read, this.sockets));
  }

  end(): Promise<SourceEnd> {
    const sockets = this.plan.skip.includes('sockets') ? { details: new Map(), sources: [] } : readSockets(this.sockets);
    // this thread's kcmp counts the placing calls with the rest
    return Promise.resolve({ sockets, kcmpCalls: 0 });
  }

  written(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Messages of the workers to this thread. */
export type WorkerMessage =
  | { kind: 'listed'; denied: (string | null)[] }
  | { kind: 'details'; processes: ProcessDetails[] }
  | { kind: 'detailsDone' }
  | { kind: 'table'; table: PlacedTable }
  | { kind: 'end'; end: SourceEnd }
  | { kind: 'failed'; message: string; stack?: string };

/** What each worker is sent to start. */
export interface WorkerStart {
  role: 'reader' | 'placer';
  plan: CapturePlan;
  shared: SharedArrayBuffer;
  /** The reader's end of the channel between the two workers, or the placer's. */
  port: MessagePort;
}

/** A queue that a consumer awaits and worker messages fill. */
class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((v: T) => void) | null = null;
  private failure: Error | null = null;
  private failWaiter: ((e: Error) => void) | null = null;

  push(item: T): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.failWaiter = null;
      w(item);
    } else {
      this.items.push(item);
    }
  }

  fail(e: Error): void {
    this.failure = e;
    this.failWaiter?.(e);
  }

  take(): Promise<T> {
    if (this.items.length) return Promise.resolve(this.items.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }
}

class WorkerSource implements CaptureSource {
  private readonly workers: Worker[];
  private readonly shared = new SharedArrayBuffer(S_SLOTS * 4);
  private readonly counters = new Int32Array(this.shared);
  private readonly fromReader = new Inbox<WorkerMessage>();
  private readonly fromPlacer = new Inbox<WorkerMessage>();
  private tablesLeft = 0;

  constructor() {
    const start = (inbox: Inbox<WorkerMessage>) => {
      // the netlink sockets it opens through koffi are closed with fs.closeSync, which a tracked worker would warn about
      const w = new Worker(WORKER, { trackUnmanagedFds: false });
      w.on('message', (m: WorkerMessage) => {
        if (m.kind === 'failed') {
          const e = new Error(m.message);
          if (m.stack) e.stack = m.stack;
          inbox.fail(e);
        } else {
          inbox.push(m);
        }
      });
      w.on('error', (e) => inbox.fail(e));
      return w;
    };
    this.workers = [start(this.fromReader), start(this.fromPlacer)];
  }

  begin(plan: CapturePlan): void {
    this.tablesLeft = plan.tables.length;
    const { port1, port2 } = new MessageChannel();
    const roles: [WorkerStart['role'], MessagePort][] = [['reader', port1], ['placer', port2]];
    roles.forEach(([role, port], i) => {
      const start: WorkerStart = { role, plan, shared: this.shared, port };
      this.workers[i]!.postMessage(start, [port]);
    });
  }

  async listed(): Promise<(string | null)[]> {
    const m = await this.fromReader.take();
    if (m.kind !== 'listed') throw new Error(`capture reader: expected the listing, got ${m.kind}`);
    return m.denied;
  }

  async nextDetails(): Promise<ProcessDetails[] | null> {
    const m = await this.fromReader.take();
    if (m.kind === 'detailsDone') return null;
    if (m.kind !== 'details') throw new Error(`capture reader: expected details, got ${m.kind}`);
    return m.processes;
  }

  async nextTable(): Promise<PlacedTable | null> {
    if (this.tablesLeft === 0) return null;
    const m = await this.fromPlacer.take();
    if (m.kind !== 'table') throw new Error(`capture placer: expected a table, got ${m.kind}`);
    this.tablesLeft--;
    return m.table;
  }

  async end(): Promise<SourceEnd> {
    const m = await this.fromPlacer.take();
    if (m.kind !== 'end') throw new Error(`capture placer: expected the end, got ${m.kind}`);
    return m.end;
  }

  written(): void {
    Atomics.add(this.counters, S_WRITTEN, 1);
    Atomics.notify(this.counters, S_WRITTEN);
  }

  async close(): Promise<void> {
    Atomics.store(this.counters, S_STOP, 1);
    for (const slot of [S_WRITTEN, S_PLACED, S_READER_POSTED]) Atomics.notify(this.counters, slot);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
