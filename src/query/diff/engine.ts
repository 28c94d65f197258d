import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { asStoreError, openDatabase } from '../../store/open.js';
import { namedStatements, statement } from '../../store/sqlFile.js';
import { noSuchCheckpoint, type Store } from '../../store/store.js';
import { exact, toEntry, type DiffRow } from './entries.js';
import { FIELDS, selectFields, type Selection } from './fields.js';
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

const SQL = 'internal/diff.sql';
type Side = 'a' | 'b';
const SIDES: readonly Side[] = ['a', 'b'];
const SHARED_WITH_BIT = 2 ** FIELDS.fds.indexOf('shared_with');

/** A statement of diff.sql that is run once per side, with `{side}` and `{other}` filled in. */
function sideSql(name: string, side: Side): string {
  return statement(SQL, name).replaceAll('{side}', side).replaceAll('{other}', side === 'a' ? 'b' : 'a');
}

/**
 * Opens the diff of checkpoint `a` against checkpoint `b`. The differences are computed
 * at once, in SQLite, into TEMP tables of a read-only connection of its own (with the
 * store of A attached as `a` and the store of B as `b`); reading them streams. Close
 * it when done.
 */
export function openDiff(store: Store | string, a: number, b: number, opts: DiffOptions = {}): CheckpointDiff {
  const selection = selectFields(opts.only, opts.ignore);
  for (const id of [a, b]) {
    if (!Number.isSafeInteger(id) || id < 1) throw new CkptdbError('BAD_ARGUMENT', `checkpoint id ${String(id)} is not a positive integer`);
  }
  const pathA = typeof store === 'string' ? store : store.path;
  const pathB = opts.storeB ?? pathA;
  // Each store is checked (a SQLite file, a ckptdb store, a schema this build reads)
  // by opening it as a store before it is attached.
  if (opts.storeB !== undefined) openDatabase(pathB, { readonly: true, create: false }).close();
  const db = openDatabase(pathA, { readonly: true, create: false });
  try {
    const attach = db.prepare('ATTACH DATABASE ? AS ?');
    attach.run(pathA, 'a');
    attach.run(pathB, 'b');
    const refA = checkpointRef(db, 'a', a, pathA);
    const refB = checkpointRef(db, 'b', b, pathB);
    return new CheckpointDiff(db, refA, refB, selection);
  } catch (e) {
    db.close();
    throw e instanceof CkptdbError ? e : asStoreError(e, pathA);
  }
}

/** The whole diff as one document, every change in memory: for small diffs and tests. */
export function diffCheckpoints(store: Store | string, a: number, b: number, opts: DiffOptions = {}): DiffDocument {
  const diff = openDiff(store, a, b, opts);
  try {
    return diff.toDocument();
  } finally {
    diff.close();
  }
}

function checkpointRef(db: Database.Database, side: Side, id: number, path: string): CheckpointRef {
  const row = db.prepare(sideSql('checkpoint_ref', side)).get({ id }) as Omit<CheckpointRef, 'store'> | undefined;
  if (!row) throw noSuchCheckpoint(id, path);
  return { store: path, ...row };
}

export class CheckpointDiff {
  readonly kinds: DiffKind[];
  readonly ignored: string[];
  /** Counts per kind compared. */
  readonly summary: Partial<Record<DiffKind, DiffCounts>>;
  private processes: Map<number, ProcessInfo> | null = null;
  private readonly care: Record<DiffKind, number>;

  constructor(
    private readonly db: Database.Database,
    readonly a: CheckpointRef,
    readonly b: CheckpointRef,
    selection: Selection,
  ) {
    this.kinds = selection.kinds;
    this.ignored = selection.ignored;
    this.care = selection.care;
    db.exec('BEGIN');
    try {
      this.compute(selection);
    } catch (e) {
      const err = e as { code?: string; message: string };
      throw new CkptdbError('SQL_ERROR', `diff of checkpoints ${a.checkpoint} and ${b.checkpoint}: ${err.message}`, undefined, { cause: e });
    }
    this.summary = this.count();
  }

  get identical(): boolean {
    return Object.values(this.summary).every((c) => c.added + c.removed + c.changed === 0);
  }

  /** The changes of one kind, in key order; of one status when given. */
  *entries(kind: DiffKind, status?: DiffStatus): Generator<DiffEntry> {
    if (!this.kinds.includes(kind)) return;
    for (const row of this.read(kind, 0, Number.MAX_SAFE_INTEGER)) {
      if (status === undefined || row.status === status) yield this.entry(kind, row);
    }
  }

  /**
   * Every change in review order: process by process (its tasks, then fds, then maps,
   * each in key order), then the kernel objects.
   */
  *changes(): Generator<DiffEntry> {
    for (const id of this.processInfo().keys()) {
      for (const kind of this.kinds) {
        if (kind === 'objects') continue;
        for (const row of this.read(kind, id, id)) yield this.entry(kind, row);
      }
    }
    yield* this.entries('objects');
  }

  [Symbol.iterator](): Generator<DiffEntry> {
    return this.changes();
  }

  /** The processes that have a change, in order, by their id in this diff. */
  processInfo(): Map<number, ProcessInfo> {
    if (this.processes) return this.processes;
    const rows = this.db.prepare(statement(SQL, 'changed_processes')).safeIntegers(true).all() as DiffRow[];
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
    if (!this.db.open) return;
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }

  private compute(sel: Selection): void {
    const db = this.db;
    const ids = { a: this.a.checkpoint, b: this.b.checkpoint };
    const run = (name: string, params?: Record<string, unknown>) => {
      const stmt = db.prepare(statement(SQL, name));
      return params ? stmt.run(params) : stmt.run();
    };
    const runPerSide = (name: string, params: Record<string, unknown> = ids) => {
      for (const side of SIDES) db.prepare(sideSql(name, side)).run(params);
    };
    for (const sql of namedStatements(SQL).get('create_work_tables')!) db.exec(sql);
    run('fill_procs', ids);
    runPerSide('fill_owners');
    runPerSide('fill_task_facts', { ...ids, ignored: JSON.stringify(sel.ignoredEntries) });
    const wanted = (k: DiffKind) => sel.kinds.includes(k);
    if (wanted('tasks')) {
      run('tasks_removed_or_changed', ids);
      run('tasks_added', ids);
    }
    if (wanted('fds')) {
      run('fds_removed_or_changed', ids);
      run('fds_added', ids);
      if (sel.care.fds & SHARED_WITH_BIT) {
        runPerSide('fill_holders');
        run('fill_shares');
        run('fds_sharing_changed');
      }
    }
    if (wanted('maps')) {
      run('maps_removed_or_changed', ids);
      run('maps_added', ids);
    }
    if (wanted('objects')) {
      run('objects_removed_or_changed', ids);
      run('objects_added', ids);
      run('sockets_changed', ids);
    }
    for (const sql of namedStatements(SQL).get('drop_ignored')!) db.prepare(sql).run(sel.care);
  }

  private count(): Partial<Record<DiffKind, DiffCounts>> {
    const summary: Partial<Record<DiffKind, DiffCounts>> = {};
    for (const k of this.kinds) summary[k] = { added: 0, removed: 0, changed: 0 };
    for (const r of this.db.prepare(statement(SQL, 'count_changes')).all() as { kind: DiffKind; status: DiffStatus; n: number }[]) {
      const counts = summary[r.kind];
      if (counts) counts[r.status] = r.n;
    }
    return summary;
  }

  private read(kind: DiffKind, first: number, last: number): IterableIterator<DiffRow> {
    const stmt = this.db.prepare(statement(SQL, `read_${kind}`)).safeIntegers(true);
    return (kind === 'objects' ? stmt.iterate() : stmt.iterate({ first, last })) as IterableIterator<DiffRow>;
  }

  private entry(kind: DiffKind, row: DiffRow): DiffEntry {
    const process = kind === 'objects' ? undefined : this.processInfo().get(Number(row.proc));
    return toEntry(kind, row, this.care[kind], process);
  }
}

