import type Database from 'better-sqlite3';
import type { NamespaceType } from '../../store/writer/types.js';
import { CkptdbError } from '../../errors.js';
import { namedStatements, statement } from '../../store/sqlFile.js';
import type { Store } from '../../store/store.js';
import { criuFileRecords } from '../criu/imageRecords.js';
import { checkpointRecord, fileRecord, getter, mapRecord, objectRecord, taskRecord, type Row } from './records.js';
import type { CheckpointRecord, FileDetailRecord, ImageRecord, RlimitRecord } from './types.js';

const SQL = 'internal/image.sql';

type Stmt = Database.Statement<unknown[]>;

/**
 * A record already written as JSON text, exactly as JSON.stringify would write the
 * record object: the exporter renders the records of fds, open files and their objects
 * so, where a million of them go straight into an image file.
 */
export type RecordText = string;

/** An fdtable_records row. */
type FdRow = [fd: number, cloexec: number, fileImage: number, objectImage: number | null, fileJson: string | null, objectJson: string | null];

/**
 * The records of one checkpoint in restore order (see types.ts), read from the store
 * as they are yielded: what is held in memory is one task's worth of rows, whatever the
 * size of the checkpoint.
 */
export function* checkpointRecords(store: Store, checkpointId: number): Generator<ImageRecord> {
  for (const r of restoreOrderRecords(store, checkpointId)) yield typeof r === 'string' ? (JSON.parse(r) as ImageRecord) : r;
}

/**
 * checkpointRecords with some records as their JSON text, for writing them out. The
 * order itself is worked out first, in two TEMP tables of the store's connection
 * (SQLite keeps them on disk past its cache), inside one read transaction, so a
 * checkpoint deleted or written meanwhile does not tear the image.
 */
export function* restoreOrderRecords(store: Store, checkpointId: number): Generator<ImageRecord | RecordText> {
  store.getCheckpoint(checkpointId);
  const db = store.db;
  const ownTransaction = !db.inTransaction;
  if (ownTransaction) db.exec('BEGIN');
  try {
    numberRestoreOrder(db, checkpointId);
    yield* new RecordReader(db, checkpointId).records();
    yield* detailRecords(db, checkpointId);
    yield* criuFileRecords(db, checkpointId);
  } finally {
    dropRestoreOrder(db);
    if (ownTransaction && db.inTransaction) db.exec('COMMIT');
  }
}

/**
 * Numbers a checkpoint's tasks and shared objects in restore order, into the TEMP
 * tables image_tasks (seq, task_id) and image_objects (image_id, object_id) of db: the
 * image ids every record refers to. Run it inside a read transaction.
 */
export function numberRestoreOrder(db: Database.Database, checkpointId: number): void {
  new RestoreOrder(db, checkpointId).build();
}

export function dropRestoreOrder(db: Database.Database): void {
  for (const sql of namedStatements(SQL).get('drop_order_tables')!) db.exec(sql);
}

/** Numbers tasks and shared objects in restore order (image_tasks, image_objects). */
class RestoreOrder {
  private readonly s: Record<string, Stmt> = {};

  constructor(private readonly db: Database.Database, private readonly checkpointId: number) {
    for (const sql of namedStatements(SQL).get('create_order_tables')!) db.exec(sql);
    for (const name of ['order_tasks', 'unordered_tasks', 'ordered_tasks', 'is_numbered', 'number_task_objects', 'number_fdtable_files',
      'count_unnumbered', 'unnumbered_fdtables', 'number_object']) {
      this.s[name] = db.prepare(statement(SQL, name));
    }
  }

  build(): void {
    const id = this.checkpointId;
    this.s.order_tasks!.run({ id });
    const cycle = this.s.unordered_tasks!.pluck().all({ id }) as number[];
    if (cycle.length) {
      throw new CkptdbError('UNSUPPORTED', `checkpoint ${id}: tasks ${cycle.join(', ')} descend from themselves (their ppids form a cycle), so they have no restore order`);
    }
    // Tasks are few next to fds; their list is the one thing held whole.
    const tasks = this.s.ordered_tasks!.raw().all() as [number, number, number | null][];
    for (const [, task, fdtable] of tasks) {
      const ownsFdtable = fdtable !== null && this.s.is_numbered!.get({ object: fdtable }) === undefined;
      this.s.number_task_objects!.run({ id, task });
      if (ownsFdtable) this.s.number_fdtable_files!.run({ id, fdtable });
    }
    if (this.unnumbered() === 0) return;
    for (const fdtable of this.s.unnumbered_fdtables!.pluck().all({ id }) as number[]) {
      this.s.number_object!.run({ object: fdtable });
      this.s.number_fdtable_files!.run({ id, fdtable });
    }
    for (const sql of namedStatements(SQL).get('number_rest')!) this.db.prepare(sql).run({ id });
  }

  private unnumbered(): number {
    return this.s.count_unnumbered!.pluck().get({ id: this.checkpointId }) as number;
  }
}

/**
 * Reads the records out in order. `next` is the image id the next definition gets: an
 * object is written in full exactly when a record refers to it and its id is `next`
 * (the ids were given in the order this reads them).
 */
class RecordReader {
  private readonly s: Record<string, Stmt> = {};
  private next = 1;

  constructor(db: Database.Database, private readonly checkpointId: number) {
    for (const name of ['checkpoint', 'ordered_tasks', 'task', 'task_namespaces', 'task_rlimits', 'object', 'file', 'objects_from', 'fdtable_records', 'mm_maps']) {
      this.s[name] = db.prepare(statement(SQL, name));
    }
  }

  *records(): Generator<ImageRecord | RecordText> {
    yield this.checkpoint();
    for (const [, task] of this.s.ordered_tasks!.raw().iterate() as IterableIterator<[number, number]>) {
      yield* this.task(task);
    }
    // What the tree does not reach: fd tables and address spaces no task uses, files no fd holds.
    for (const row of this.s.objects_from!.iterate({ image: this.next }) as IterableIterator<{ image_id: number; object_id: number; kind: string }>) {
      if (row.image_id < this.next) continue;
      this.next++;
      yield row.kind === 'file' ? fileRecord(getter(this.s.file!.get({ image: row.image_id }))) : objectRecord(getter(this.s.object!.get({ image: row.image_id })));
      if (row.kind === 'fdtable') yield* this.fds(row.object_id, row.image_id);
      if (row.kind === 'mm') yield* this.maps(row.object_id, row.image_id);
    }
  }

  private checkpoint(): CheckpointRecord {
    return checkpointRecord(this.s.checkpoint!.get({ id: this.checkpointId }) as Row);
  }

  private *task(task: number): Generator<ImageRecord | RecordText> {
    const { mm_id: mmId, fdtable_id: fdtableId, ...t } = this.s.task!.get({ task }) as Row;
    const namespaces = this.s.task_namespaces!.raw().all({ id: this.checkpointId, task }) as [NamespaceType, number][];
    // The task that defines its fd table and address space is the one that lists their contents.
    let fdtableIsNew = false;
    let mmIsNew = false;
    for (const ref of [t.mm, t.fdtable, t.fs, t.sighand, ...namespaces.map((n) => n[1])]) {
      if (ref !== this.next) continue;
      fdtableIsNew ||= ref === t.fdtable;
      mmIsNew ||= ref === t.mm;
      this.next++;
      yield objectRecord(getter(this.s.object!.get({ image: ref })));
    }
    yield taskRecord(t, namespaces, this.s.task_rlimits!.all({ id: this.checkpointId, task }) as RlimitRecord[]);
    if (fdtableIsNew) yield* this.fds(fdtableId as number, t.fdtable as number);
    if (mmIsNew) yield* this.maps(mmId as number, t.mm as number);
  }

  private *fds(fdtableId: number, fdtable: number): Generator<ImageRecord | RecordText> {
    // Rows as arrays, the file and object records already JSON (fdtable_records): the
    // fd records of a million-fd checkpoint are this exporter's hot path.
    const rows = this.s.fdtable_records!.raw(true).iterate({ id: this.checkpointId, fdtable: fdtableId, next: this.next }) as IterableIterator<FdRow>;
    for (const [fd, cloexec, file, object, fileJson, objectJson] of rows) {
      if (object === this.next) {
        this.next++;
        yield objectJson!;
      }
      if (file === this.next) {
        this.next++;
        yield fileJson!;
      }
      // every field a number or a boolean: the text JSON.stringify would make of an FdRecord
      yield `{"record":"fd","fdtable":${fdtable},"fd":${fd},"cloexec":${cloexec === 1},"file":${file}}`;
    }
  }

  private *maps(mmId: number, mm: number): Generator<ImageRecord> {
    for (const m of this.s.mm_maps!.iterate({ id: this.checkpointId, mm: mmId }) as IterableIterator<Row>) yield mapRecord(m, mm);
  }
}

/** Each detail table, as the image's records of it (types.ts). */
const DETAILS: [statement: string, record: FileDetailRecord['record']][] = [
  ['detail_eventfds', 'eventfd'], ['detail_epoll_targets', 'epollTarget'], ['detail_inotify_watches', 'inotifyWatch'],
  ['detail_timerfds', 'timerfd'], ['detail_signalfds', 'signalfd'], ['detail_ttys', 'tty'],
];

/** The details of anonymous files, table by table; the columns come named as the records' fields. */
function* detailRecords(db: Database.Database, checkpointId: number): Generator<ImageRecord> {
  for (const [name, record] of DETAILS) {
    for (const row of db.prepare(statement(SQL, name)).iterate({ id: checkpointId }) as IterableIterator<Row>) {
      yield { record, ...row } as FileDetailRecord;
    }
  }
}
