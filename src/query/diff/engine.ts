import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { statement } from '../../store/sqlFile.js';
import type { Store } from '../../store/store.js';
import { DiffWork, OFFLOADED, SQL, passesFor, type DiffIds } from './compute.js';
import { checkpointRef, openDiffConnection, type DiffPaths } from './connection.js';
import { exact, toEntry, type DiffRow } from './entries.js';
import { selectFields, type Selection } from './fields.js';
import { startWorker } from './parallel.js';
import type {
  CheckpointRef,
  DiffCounts,
  DiffDocument,
  DiffEntry,
  DiffKind,
  DiffOptions,
  DiffStatus,
  KindChanges,
  ProcessInfo,
} from './types.js';

/** The kinds that belong to no process, reviewed after the processes, in this order. */
const WITHOUT_PROCESS: readonly DiffKind[] = ['objects', 'images'];

/** From this many fds in checkpoint A on, a worker thread takes part of the work. */
const PARALLEL_FROM_FDS = 200_000;

/**
 * Opens the diff of checkpoint `a` against checkpoint `b`. The differences are computed
 * at once, in SQLite, into TEMP tables of a read-only connection of its own; reading
 * them streams. Close it when done.
 */
export async function openDiff(store: Store | string, a: number, b: number, opts: DiffOptions = {}): Promise<CheckpointDiff> {
  const selection = selectFields(opts.only, opts.ignore);
  for (const id of [a, b]) {
    if (!Number.isSafeInteger(id) || id < 1) throw new CkptdbError('BAD_ARGUMENT', `checkpoint id ${String(id)} is not a positive integer`);
  }
  if (opts.threads !== undefined && opts.threads !== 1 && opts.threads !== 2) {
    throw new CkptdbError('BAD_ARGUMENT', `threads must be 1 or 2, not ${String(opts.threads)}`);
  }
  const pathA = typeof store === 'string' ? store : store.path;
  const paths: DiffPaths = { a: pathA, b: opts.storeB ?? pathA };
  const db = openDiffConnection(paths);
  try {
    const refA = checkpointRef(db, 'a', a, opts.names?.a ?? paths.a);
    const refB = checkpointRef(db, 'b', b, opts.names?.b ?? paths.b);
    const threads = await compute(db, paths, { a, b }, selection, opts.threads);
    return new CheckpointDiff(new SqliteResults(db), refA, refB, selection, threads);
  } catch (e) {
    db.close();
    if (e instanceof CkptdbError) throw e;
    throw new CkptdbError('SQL_ERROR', `diff of checkpoints ${a} and ${b}: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/** The whole diff as one document, every change in memory: for small diffs and tests. */
export async function diffCheckpoints(store: Store | string, a: number, b: number, opts: DiffOptions = {}): Promise<DiffDocument> {
  const diff = await openDiff(store, a, b, opts);
  try {
    return diff.toDocument();
  } finally {
    diff.close();
  }
}

/** Computes the differences, on one thread or two; returns how many it took. */
async function compute(db: Database.Database, paths: DiffPaths, ids: DiffIds, selection: Selection, threads: 1 | 2 | undefined): Promise<1 | 2> {
  const work = new DiffWork(db, ids, selection);
  const passes = passesFor(selection);
  const offload = passes.filter((p) => OFFLOADED.includes(p));
  const parallel = offload.length > 0 && (threads ?? (work.fdsInA() >= PARALLEL_FROM_FDS ? 2 : 1)) === 2;
  const worker = parallel ? startWorker({ paths, ids, selection, passes: offload }) : null;
  const own = worker ? passes.filter((p) => !offload.includes(p)) : passes;
  try {
    work.prepare(true);
    work.run(own);
    if (worker) work.load(await worker.result);
  } finally {
    worker?.stop();
  }
  work.finish();
  return worker ? 2 : 1;
}

/** Where the differences a diff computed are read from. */
export interface DiffResults {
  /** The processes with a change, in order (changed_processes). */
  changedProcesses(): DiffRow[];
  counts(): { kind: DiffKind; status: DiffStatus; n: number }[];
  /** One kind's differences in key order (read_KIND), of one status when given. */
  read(kind: DiffKind, status?: DiffStatus): IterableIterator<DiffRow>;
  close(): void;
}

/** The TEMP tables of the connection that computed them, read as they are iterated. */
class SqliteResults implements DiffResults {
  constructor(private readonly db: Database.Database) {}

  changedProcesses(): DiffRow[] {
    return this.db.prepare(statement(SQL, 'changed_processes')).safeIntegers(true).all() as DiffRow[];
  }

  counts(): { kind: DiffKind; status: DiffStatus; n: number }[] {
    return this.db.prepare(statement(SQL, 'count_changes')).all() as { kind: DiffKind; status: DiffStatus; n: number }[];
  }

  read(kind: DiffKind, status?: DiffStatus): IterableIterator<DiffRow> {
    return this.db.prepare(statement(SQL, `read_${kind}`)).safeIntegers(true).iterate({ status: status ?? null }) as IterableIterator<DiffRow>;
  }

  close(): void {
    if (!this.db.open) return;
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }
}

export class CheckpointDiff {
  readonly kinds: DiffKind[];
  readonly ignored: string[];
  /** Counts per kind compared. */
  readonly summary: Partial<Record<DiffKind, DiffCounts>>;
  private processes: Map<number, ProcessInfo> | null = null;
  private readonly care: Record<DiffKind, number>;

  constructor(
    private readonly results: DiffResults,
    readonly a: CheckpointRef,
    readonly b: CheckpointRef,
    selection: Selection,
    /** How many threads computed it. */
    readonly threads: 1 | 2,
  ) {
    this.kinds = selection.kinds;
    this.ignored = selection.ignored;
    this.care = selection.care;
    this.summary = this.count();
  }

  get identical(): boolean {
    return Object.values(this.summary).every((c) => c.added + c.removed + c.changed === 0);
  }

  /** The changes of one kind in key order (process by process); of one status when given. */
  *entries(kind: DiffKind, status?: DiffStatus): Generator<DiffEntry> {
    if (!this.kinds.includes(kind)) return;
    for (const row of this.read(kind, status)) yield this.entry(kind, row);
  }

  /**
   * Every change in review order: process by process (its tasks, then fds, then maps,
   * each in key order), then the kernel objects, then the CRIU images. One ordered read
   * per kind, merged.
   */
  *changes(): Generator<DiffEntry> {
    const streams = this.kinds.filter((k) => !WITHOUT_PROCESS.includes(k)).map((kind) => {
      const rows = this.read(kind);
      return { kind, rows, next: rows.next() };
    });
    try {
      for (const id of this.processInfo().keys()) {
        for (const s of streams) {
          while (!s.next.done && Number(s.next.value.proc) === id) {
            yield this.entry(s.kind, s.next.value);
            s.next = s.rows.next();
          }
        }
      }
    } finally {
      for (const s of streams) s.rows.return?.();
    }
    for (const kind of WITHOUT_PROCESS) yield* this.entries(kind);
  }

  [Symbol.iterator](): Generator<DiffEntry> {
    return this.changes();
  }

  /** The processes that have a change, in order, by their id in this diff. */
  processInfo(): Map<number, ProcessInfo> {
    if (this.processes) return this.processes;
    const rows = this.results.changedProcesses();
    this.processes = new Map(rows.map((r) => [Number(r.id), {
      pid: Number(r.pid),
      start_time: exact(r.start_time) as ProcessInfo['start_time'],
      comm: r.comm as string | null,
      status: r.in_a && !r.in_b ? 'removed' : r.in_b && !r.in_a ? 'added' : 'changed',
    }]));
    return this.processes;
  }

  toDocument(): DiffDocument {
    const doc: DiffDocument = {
      format: 'ckptdb-diff',
      version: 1,
      a: this.a,
      b: this.b,
      kinds: this.kinds,
      ignored: this.ignored,
      identical: this.identical,
      summary: this.summary,
    };
    for (const kind of this.kinds) {
      const changes = { added: [], removed: [], changed: [] } as KindChanges<DiffKind>;
      for (const e of this.entries(kind)) (changes[e.status] as DiffEntry[]).push(e);
      (doc as unknown as Record<string, unknown>)[kind] = changes;
    }
    return doc;
  }

  close(): void {
    this.results.close();
  }

  private count(): Partial<Record<DiffKind, DiffCounts>> {
    const summary: Partial<Record<DiffKind, DiffCounts>> = {};
    for (const k of this.kinds) summary[k] = { added: 0, removed: 0, changed: 0 };
    for (const r of this.results.counts()) {
      const counts = summary[r.kind];
      if (counts) counts[r.status] = r.n;
    }
    return summary;
  }

  private read(kind: DiffKind, status?: DiffStatus): IterableIterator<DiffRow> {
    return this.results.read(kind, status);
  }

  private entry(kind: DiffKind, row: DiffRow): DiffEntry {
    const process = WITHOUT_PROCESS.includes(kind) ? undefined : this.processInfo().get(Number(row.proc));
    return toEntry(kind, row, this.care[kind], process);
  }
}

