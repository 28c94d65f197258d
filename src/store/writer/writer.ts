import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { statement } from '../sqlFile.js';
import { addressText, flag, toJson } from '../values.js';
import { hashIds, hashKey, KeyFilter } from './keyFilter.js';
import { holdYoungGeneration } from './youngGeneration.js';
import { kindCode, kindMask, kindName, maskNames, OBJECT_KINDS } from './kinds.js';
import { PendingObjects, type PendingRow } from './pendingObjects.js';
import { RecentKinds } from './recentKinds.js';
import { RowBatch } from './rowBatch.js';
import type {
  CheckpointMeta,
  EpollTargetInput,
  EventfdInput,
  FdInput,
  FileInput,
  InotifyWatchInput,
  MapInput,
  ObjectId,
  SharedObjectInput,
  SignalfdInput,
  SocketInput,
  TaskInput,
  TimerfdInput,
  TtyInput,
  WriterCounts,
  WriterOptions,
  WriterResult,
} from './types.js';
import { FILE_TYPES } from './types.js';

const DEFAULT_BUDGET = 4 * 1024 * 1024;
const DEFAULT_WAIT_MS = 10 * 60 * 1000;
/** What one pending object or pending refcount entry costs, roughly. */
const ENTRY_BYTES = 80;
/** Objects whose refcount one statement raises by one. */
const REF_BATCH = 256;
/** Pending objects at most: enough for references to find their object unflushed. */
const MAX_PENDING = 4096;
const MIN_PENDING = 256;
/** Rows per INSERT of a batched table at most: measured, more gains nothing. */
const BATCH_ROWS = 128;
const MIN_BATCH_ROWS = 16;
/** What one value of a batched row costs, roughly. */
const VALUE_BYTES = 16;
/** Kind codes of the filter's other keys, past the object kinds'. */
const FDTABLE_SEEN = 100;
const MM_SEEN = 101;

const TASK_REFS = [
  ['mm', kindMask('mm')],
  ['fdtable', kindMask('fdtable')],
  ['fs', kindMask('fs')],
  ['sighand', kindMask('sighand')],
] as const;
const FILE_OBJECT_KINDS = kindMask('inode', 'pipe', 'socket', 'anon');
const ANY_KIND = kindMask(...OBJECT_KINDS);
const FILE_KIND = kindCode('file');
const NS_KIND = kindMask('ns');
const FDTABLE_KIND = kindMask('fdtable');
const FILE_KIND_MASK = kindMask('file');
const MM_KIND = kindMask('mm');
const SOCKET_KIND = kindMask('socket');
const FILE_TYPE_SET: ReadonlySet<string> = new Set(FILE_TYPES);

type Stmt = Database.Statement<unknown[]>;

function prepare(db: Database.Database, name: string): Stmt {
  return db.prepare(statement('internal/writer.sql', name));
}

/**
 * Writes one checkpoint. Every add goes to SQLite inside one transaction that commits
 * at done(); until then no reader sees any of it, and abort(), an error or the death
 * of the process leaves nothing behind.
 *
 * The writer gives every row its id (it holds the write lock), so that rows can wait
 * and be written many to a statement (RowBatch): shared objects wait in
 * PendingObjects until their refcounts are counted, fds, maps, namespaces and limits
 * in batches of their own. Open files, tasks and sockets are written at their call.
 * So code that reads the checkpoint on this connection while it is being written sees
 * its files and tasks, and must not count on its other rows before done().
 *
 * What the writer keeps in memory is bounded by the budget and does not grow with the
 * checkpoint: the waiting rows, references to older objects (added in batches), a
 * Bloom filter (KeyFilter) and a ring of recent kinds (RecentKinds). A key seen
 * before is found among the waiting objects or in the key index; the filter spares
 * that lookup for nearly every new one. An fd (a map) that comes after the others of
 * its table (address space) in number (address) order, in the first run of adds to
 * that table, cannot be there already: the sources add them so, and only the rest are
 * looked up.
 *
 * References are checked by the writer at the call that makes them (an id of this
 * checkpoint, of a kind that fits), so SQLite's foreign key checks, which would look
 * each one up again, are off on this connection while the checkpoint is written;
 * `verify` still checks every foreign key of the store.
 */
export class CheckpointWriter {
  readonly checkpointId: number;
  private open = true;
  private readonly s: Record<string, Stmt>;
  /** Ids of this checkpoint's shared objects lie in (floor, pending.nextId). */
  private readonly objectFloor: number;
  private readonly pending: PendingObjects;
  private readonly filter: KeyFilter;
  private readonly recentKinds: RecentKinds;
  /** Refcount increments of objects already inserted. */
  private readonly pendingRefs = new Map<number, number>();
  private readonly foreignKeys: boolean;
  /** One function for every flush: a new closure each time would cost its callers their optimised code. */
  private readonly insertPending: (o: PendingRow) => void;
  private readonly objectRows: RowBatch;
  private readonly fdRows: RowBatch;
  private readonly mapRows: RowBatch;
  private readonly namespaceRows: RowBatch;
  private readonly rlimitRows: RowBatch;
  private nextTaskId: number;
  private nextFdId: number;
  private nextMapId: number;
  /** The fd table fds were last added to, whether that run of adds is its first, and its highest fd so far. */
  private fdTable = 0;
  private fdTableFirstRun = false;
  private fdTableTop = -1;
  /** The same for maps: address space and highest start address. */
  private mapSpace = 0;
  private mapSpaceFirstRun = false;
  private mapSpaceTop = '';
  private peakEntries = 0;
  private peakRss = 0;
  private readonly counts: WriterCounts = { tasks: 0, fds: 0, files: 0, sharedObjects: 0, maps: 0, sockets: 0, fileDetails: 0 };
  private readonly meta: CheckpointMeta;
  private releaseYoung: () => void = () => {};

  constructor(private readonly db: Database.Database, meta: CheckpointMeta, opts: WriterOptions = {}) {
    if (db.inTransaction) throw new CkptdbError('STORE_BUSY', 'a checkpoint is already being written on this store connection');
    validateMeta(meta);
    this.meta = meta;
    const budget = Math.max(0, opts.memoryBudget ?? DEFAULT_BUDGET);
    this.filter = new KeyFilter(budget / 2);
    this.recentKinds = new RecentKinds(budget / 4);
    const capacity = Math.min(MAX_PENDING, Math.max(MIN_PENDING, Math.floor(budget / 4 / ENTRY_BYTES / 2)));
    // PRAGMA foreign_keys does nothing inside a transaction: set it before BEGIN
    this.foreignKeys = db.pragma('foreign_keys', { simple: true }) === 1;
    db.pragma('foreign_keys = OFF');
    try {
      beginImmediate(db, opts.waitMs ?? DEFAULT_WAIT_MS);
    } catch (e) {
      this.restoreForeignKeys();
      throw e;
    }
    try {
      this.s = {};
      for (const name of [
        'find_object', 'object_kind', 'mark_inferred', 'add_refs', 'add_one_ref_each', 'insert_file', 'insert_task', 'find_task',
        'find_fd', 'find_map', 'insert_socket',
        'insert_eventfd', 'insert_epoll_target', 'insert_inotify_watch', 'insert_timerfd', 'insert_signalfd', 'insert_tty',
        'finish_checkpoint',
      ]) {
        this.s[name] = prepare(db, name);
      }
      // the batches of the five tables take an eighth of the budget
      const batchRows = Math.min(BATCH_ROWS, Math.max(MIN_BATCH_ROWS, Math.floor(budget / 8 / (5 * 8 * VALUE_BYTES))));
      const batch = (name: string, columns: number) => new RowBatch(db, statement('internal/writer.sql', name), columns, batchRows);
      this.objectRows = batch('insert_object', 7);
      this.fdRows = batch('insert_fd', 6);
      this.mapRows = batch('insert_map', 11);
      this.namespaceRows = batch('insert_namespace', 4);
      this.rlimitRows = batch('insert_rlimit', 5);
      const maxId = (name: string) => Number(prepare(db, name).pluck().get());
      this.objectFloor = maxId('max_object_id');
      this.nextTaskId = maxId('max_task_id') + 1;
      this.nextFdId = maxId('max_fd_id') + 1;
      this.nextMapId = maxId('max_map_id') + 1;
      this.pending = new PendingObjects(capacity, this.objectFloor + 1);
      const started = (meta.startedAt ?? new Date()).toISOString();
      const info = prepare(db, 'insert_checkpoint').run(
        meta.label ?? null, meta.source, meta.host === undefined ? hostname() : meta.host, meta.kernel ?? null, meta.rootPid ?? null,
        flag(meta.frozen), started, started, toJson(meta.meta), meta.uuid ?? randomUUID(),
      );
      this.checkpointId = Number(info.lastInsertRowid);
      const rows = this.objectRows;
      const checkpoint = this.checkpointId;
      this.insertPending = (o) => {
        const at = rows.next();
        const v = rows.values;
        v[at] = o.id;
        v[at + 1] = checkpoint;
        v[at + 2] = kindName(o.kind);
        v[at + 3] = o.key;
        v[at + 4] = o.refcount;
        v[at + 5] = o.inferred;
        v[at + 6] = o.attrs;
      };
      this.releaseYoung = holdYoungGeneration();
    } catch (e) {
      db.exec('ROLLBACK');
      this.restoreForeignKeys();
      throw e;
    }
  }

  /** Adds a kernel object that references can point to; a key seen before returns its id. */
  addSharedObject(o: SharedObjectInput): ObjectId {
    this.assertOpen();
    try {
      const code = kindCode(o.kind);
      if (code < 0 || code === FILE_KIND) {
        throw new CkptdbError('BAD_ARGUMENT', code === FILE_KIND ? 'shared object of kind file: add open files with addFile' : `shared object of unknown kind ${String(o.kind)}`);
      }
      const id = this.object(code, o.key, o.inferred, o.attrs);
      return id < 0 ? -id : id;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /**
   * Marks an object's sharing as inferred after it was added: a streaming source may
   * learn only later that a guess was involved.
   */
  markInferred(id: ObjectId): void {
    this.assertOpen();
    try {
      this.checkReference(id, ANY_KIND, `object ${id}`);
      if (this.pending.holds(id)) this.pending.markInferred(id);
      else this.s.mark_inferred!.run(id, this.checkpointId);
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Adds an open file description; a key seen before returns its id. */
  addFile(f: FileInput): ObjectId {
    this.assertOpen();
    try {
      if (!FILE_TYPE_SET.has(f.type)) throw new CkptdbError('BAD_ARGUMENT', `file ${f.key}: unknown type ${String(f.type)}`);
      if (f.object != null) this.checkReference(f.object, FILE_OBJECT_KINDS, `file ${f.key}: object`);
      const id = this.object(FILE_KIND, f.key, f.inferred, undefined);
      if (id < 0) return -id;
      if (f.object != null) this.countReference(f.object);
      this.s.insert_file!.run(
        id, this.checkpointId, f.type, f.path ?? null, f.pos ?? null, f.flags ?? null, f.mode ?? null,
        f.mntId ?? null, f.dev ?? null, f.inode ?? null, flag(f.deleted), f.object ?? null, f.unreadable ?? null,
        toJson(f.attrs),
      );
      this.counts.files++;
      return id;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Adds one thread with its namespaces and resource limits; a pid seen before returns its id. */
  addTask(t: TaskInput): ObjectId {
    this.assertOpen();
    try {
      if (!Number.isInteger(t.pid) || !Number.isInteger(t.tgid)) throw new CkptdbError('BAD_ARGUMENT', `task ${t.pid}: pid and tgid must be integers`);
      for (const [field, kinds] of TASK_REFS) {
        const ref = t[field];
        if (ref != null) this.checkReference(ref, kinds, `task ${t.pid}: ${field}`);
      }
      const nsEntries = Object.entries(t.namespaces ?? {});
      for (const [type, ref] of nsEntries) this.checkReference(ref, NS_KIND, `task ${t.pid}: namespace ${type}`);

      const id = this.nextTaskId;
      const info = this.s.insert_task!.run(
        id, this.checkpointId, t.pid, t.tgid, t.ppid ?? null, t.pgid ?? null, t.sid ?? null, t.state ?? null, t.comm ?? null,
        t.uid ?? null, t.euid ?? null, t.suid ?? null, t.fsuid ?? null, t.gid ?? null, t.egid ?? null, t.sgid ?? null, t.fsgid ?? null,
        toJson(t.cmdline), t.exe ?? null, t.cwd ?? null, t.root ?? null, t.startTime ?? null,
        t.sigPending ?? null, t.sigBlocked ?? null, t.sigIgnored ?? null, t.sigCaught ?? null, toJson(t.env),
        t.mm ?? null, t.fdtable ?? null, t.fs ?? null, t.sighand ?? null,
        t.unreadable && Object.keys(t.unreadable).length ? toJson(t.unreadable) : null, toJson(t.attrs),
      );
      if (info.changes === 0) return Number(this.s.find_task!.pluck().get(this.checkpointId, t.pid));
      this.nextTaskId++;
      for (const [field] of TASK_REFS) {
        const ref = t[field];
        if (ref != null) this.countReference(ref);
      }
      const cp = this.checkpointId;
      for (const [type, ref] of nsEntries) {
        const at = this.namespaceRows.next();
        const v = this.namespaceRows.values;
        v[at] = cp;
        v[at + 1] = id;
        v[at + 2] = type;
        v[at + 3] = ref;
        this.countReference(ref!);
      }
      for (const r of t.rlimits ?? []) {
        const at = this.rlimitRows.next();
        const v = this.rlimitRows.values;
        v[at] = cp;
        v[at + 1] = id;
        v[at + 2] = r.resource;
        v[at + 3] = r.soft;
        v[at + 4] = r.hard;
      }
      this.counts.tasks++;
      return id;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Adds an fd slot pointing at an open file; an (fd table, fd) seen before returns its id. */
  addFd(f: FdInput): ObjectId {
    this.assertOpen();
    try {
      const fd = f.fd;
      if (!Number.isInteger(fd) || fd < 0) throw new CkptdbError('BAD_ARGUMENT', `fd ${fd}: not a file descriptor number`);
      this.checkReference(f.fdtable, FDTABLE_KIND, `fd ${fd}: fdtable`);
      this.checkReference(f.file, FILE_KIND_MASK, `fd ${fd}: file`);
      if (f.fdtable !== this.fdTable) {
        this.fdTable = f.fdtable;
        this.fdTableFirstRun = !this.filter.testAndAdd(hashIds(FDTABLE_SEEN, f.fdtable));
        this.fdTableTop = -1;
      }
      if (!this.fdTableFirstRun || fd <= this.fdTableTop) {
        const known = this.storedFd(f.fdtable, fd);
        if (known) return known;
      }
      if (fd > this.fdTableTop) this.fdTableTop = fd;
      const id = this.nextFdId++;
      const at = this.fdRows.next();
      const v = this.fdRows.values;
      v[at] = id;
      v[at + 1] = this.checkpointId;
      v[at + 2] = f.fdtable;
      v[at + 3] = fd;
      v[at + 4] = f.cloexec ? 1 : 0;
      v[at + 5] = f.file;
      this.countReference(f.file);
      this.counts.fds++;
      return id;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Adds a memory mapping of an address space; a start address seen before returns its id. */
  addMap(m: MapInput): ObjectId {
    this.assertOpen();
    try {
      this.checkReference(m.mm, MM_KIND, `map ${String(m.start)}: mm`);
      const start = addressText(m.start, 'map start');
      const end = addressText(m.end, 'map end');
      if (end <= start) throw new CkptdbError('BAD_ARGUMENT', `map ${start}: end ${end} is not above start`);
      if (m.mm !== this.mapSpace) {
        this.mapSpace = m.mm;
        this.mapSpaceFirstRun = !this.filter.testAndAdd(hashIds(MM_SEEN, m.mm));
        this.mapSpaceTop = '';
      }
      if (!this.mapSpaceFirstRun || start <= this.mapSpaceTop) {
        const known = this.storedMap(m.mm, start);
        if (known) return known;
      }
      if (start > this.mapSpaceTop) this.mapSpaceTop = start;
      const id = this.nextMapId++;
      const at = this.mapRows.next();
      const v = this.mapRows.values;
      v[at] = id;
      v[at + 1] = this.checkpointId;
      v[at + 2] = m.mm;
      v[at + 3] = start;
      v[at + 4] = end;
      v[at + 5] = m.perms;
      v[at + 6] = m.pgoff ?? null;
      v[at + 7] = m.dev ?? null;
      v[at + 8] = m.inode ?? null;
      v[at + 9] = m.path ?? null;
      v[at + 10] = toJson(m.attrs);
      this.counts.maps++;
      return id;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Records what the kernel shows of a socket object; the first details given win. */
  addSocket(s: SocketInput): ObjectId {
    this.assertOpen();
    try {
      this.checkReference(s.object, SOCKET_KIND, 'socket details: object');
      const info = this.s.insert_socket!.run(
        s.object, this.checkpointId, s.family ?? null, s.type ?? null, s.protocol ?? null, s.state ?? null,
        s.localAddr ?? null, s.localPort ?? null, s.remoteAddr ?? null, s.remotePort ?? null, s.peerIno ?? null, toJson(s.attrs),
      );
      if (info.changes) this.counts.sockets++;
      return s.object;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** An eventfd's counter. */
  addEventfd(e: EventfdInput): void {
    this.detail('eventfd', e.file, 'insert_eventfd', e.counter);
  }

  /** One fd an epoll watches; an (epoll, seq) given before is ignored. */
  addEpollTarget(t: EpollTargetInput): void {
    this.detail('epoll target', t.file, 'insert_epoll_target', t.seq, t.tfd, t.events, t.data, t.inode ?? null, t.dev ?? null, t.pos ?? null);
  }

  /** One watch of an inotify file; an (inotify, wd) given before is ignored. */
  addInotifyWatch(w: InotifyWatchInput): void {
    this.detail('inotify watch', w.file, 'insert_inotify_watch', w.wd, w.inode, w.dev ?? null, w.mask, w.ignoredMask ?? 0);
  }

  /** A timerfd's clock and settings. */
  addTimerfd(t: TimerfdInput): void {
    this.detail('timerfd', t.file, 'insert_timerfd', t.clockid, t.ticks, t.settimeFlags, t.intervalNs, t.valueNs);
  }

  /** The signals a signalfd reads. */
  addSignalfd(s: SignalfdInput): void {
    if (!/^[0-9a-f]{16}$/.test(String(s.sigmask))) {
      throw this.failed(new CkptdbError('BAD_ARGUMENT', `signalfd ${s.file}: sigmask ${String(s.sigmask)} is not 16 hex digits`));
    }
    this.detail('signalfd', s.file, 'insert_signalfd', s.sigmask);
  }

  /** The tty a file is on; peer, when given, must be a file added before. */
  addTty(t: TtyInput): void {
    if (t.peer != null) {
      try {
        this.checkReference(t.peer, FILE_KIND_MASK, `tty ${t.file}: peer`);
      } catch (e) {
        throw this.failed(e);
      }
    }
    this.detail('tty', t.file, 'insert_tty', t.kind, t.index ?? null, t.role ?? null, t.rdev ?? null, t.peer ?? null);
  }

  /** Inserts a row of a detail table of the file `file`, which must be an open file of this checkpoint. */
  private detail(what: string, file: ObjectId, stmt: string, ...values: unknown[]): void {
    this.assertOpen();
    try {
      this.checkReference(file, FILE_KIND_MASK, `${what}: file`);
      if (this.s[stmt]!.run(this.checkpointId, file, ...values).changes) this.counts.fileDetails++;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Commits the checkpoint: from now on readers see all of it. */
  done(extraMeta?: Record<string, unknown>): WriterResult {
    this.assertOpen();
    try {
      this.flush();
      this.fdRows.flush();
      this.mapRows.flush();
      this.namespaceRows.flush();
      this.rlimitRows.flush();
      const meta = extraMeta ? { ...this.meta.meta, ...extraMeta } : this.meta.meta;
      this.s.finish_checkpoint!.run(new Date().toISOString(), flag(this.meta.frozen), toJson(meta), this.checkpointId);
      this.db.exec('COMMIT');
      this.open = false;
      this.releaseYoung();
      this.restoreForeignKeys();
      this.sampleRss();
      return {
        checkpointId: this.checkpointId,
        counts: { ...this.counts },
        peakBufferedBytes: this.filter.bytes + this.recentKinds.bytes + this.peakEntries * ENTRY_BYTES + this.batchBytes(),
        peakRss: this.peakRss,
      };
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Drops everything written so far. Safe to call more than once. */
  abort(): void {
    if (!this.open) return;
    this.open = false;
    this.pendingRefs.clear();
    for (const rows of [this.objectRows, this.fdRows, this.mapRows, this.namespaceRows, this.rlimitRows]) rows?.clear();
    this.releaseYoung();
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.restoreForeignKeys();
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Marks the checkpoint as taken from a frozen tree; recorded at done(). */
  setFrozen(frozen: boolean): void {
    this.meta.frozen = frozen;
  }

  private assertOpen(): void {
    if (!this.open) throw new CkptdbError('WRITER_CLOSED', `checkpoint ${this.checkpointId} is no longer being written`);
  }

  /** Any error ends the checkpoint: nothing of it stays. */
  private failed(e: unknown): CkptdbError {
    this.abort();
    if (e instanceof CkptdbError) return e;
    const err = e as { code?: string; message: string };
    return new CkptdbError('SQL_ERROR', `checkpoint ${this.checkpointId}: ${err.message}`, undefined, { cause: e });
  }

  private restoreForeignKeys(): void {
    if (this.foreignKeys && !this.db.inTransaction) this.db.pragma('foreign_keys = ON');
  }

  /** The id of the object with this kind and key: made now (positive), or made before (negated). */
  private object(kind: number, key: string, inferred: boolean | undefined, attrs: Record<string, unknown> | undefined): number {
    if (typeof key !== 'string' || key === '') throw new CkptdbError('BAD_ARGUMENT', `${kindName(kind)} object: key must be a non-empty string`);
    const hash = hashKey(kind, key);
    if (this.filter.testAndAdd(hash)) {
      const known = this.pending.find(kind, key, hash) || this.storedObject(kind, key);
      if (known) return -known;
    }
    if (this.pending.full) this.flush();
    const id = this.pending.add(kind, key, hash, inferred === true, toJson(attrs));
    this.recentKinds.add(id, kind);
    this.counts.sharedObjects++;
    return id;
  }

  private storedObject(kind: number, key: string): number {
    const id = this.s.find_object!.pluck().get(this.checkpointId, kindName(kind), key) as number | undefined;
    return id ?? 0;
  }

  /** The id of the fd (fd table, fd) added before, or 0. */
  private storedFd(fdtable: number, fd: number): number {
    const rows = this.fdRows;
    for (let r = 0, at = 0; r < rows.size; r++, at += rows.columns) {
      if (rows.values[at + 2] === fdtable && rows.values[at + 3] === fd) return rows.values[at] as number;
    }
    return (this.s.find_fd!.pluck().get(this.checkpointId, fdtable, fd) as number | undefined) ?? 0;
  }

  /** The id of the map (address space, start) added before, or 0. */
  private storedMap(mm: number, start: string): number {
    const rows = this.mapRows;
    for (let r = 0, at = 0; r < rows.size; r++, at += rows.columns) {
      if (rows.values[at + 2] === mm && rows.values[at + 3] === start) return rows.values[at] as number;
    }
    return (this.s.find_map!.pluck().get(this.checkpointId, mm, start) as number | undefined) ?? 0;
  }

  /** What the batches hold at most, roughly. */
  private batchBytes(): number {
    return [this.objectRows, this.fdRows, this.mapRows, this.namespaceRows, this.rlimitRows].reduce((n, b) => n + b.capacity * b.columns * VALUE_BYTES, 0);
  }

  /** A reference must name an object of this checkpoint, of a kind that fits. */
  private checkReference(id: ObjectId, kinds: number, what: string): void {
    if (!Number.isInteger(id) || id <= this.objectFloor || id >= this.pending.nextId) {
      throw new CkptdbError('DANGLING_REFERENCE', `${what} refers to object ${String(id)}, which does not exist in checkpoint ${this.checkpointId}`);
    }
    let kind = this.recentKinds.get(id);
    if (kind < 0) {
      const name = this.s.object_kind!.pluck().get(id, this.checkpointId) as string | undefined;
      if (name === undefined) {
        throw new CkptdbError('DANGLING_REFERENCE', `${what} refers to object ${id}, which does not exist in checkpoint ${this.checkpointId}`);
      }
      kind = kindCode(name);
    }
    if ((kinds & (1 << kind)) === 0) {
      throw new CkptdbError('WRONG_KIND', `${what} refers to object ${id} of kind ${kindName(kind)}; expected ${maskNames(kinds).join(' or ')}`);
    }
  }

  private countReference(id: ObjectId): void {
    if (this.pending.holds(id)) {
      this.pending.addRef(id);
      return;
    }
    this.pendingRefs.set(id, (this.pendingRefs.get(id) ?? 0) + 1);
    if (this.pendingRefs.size >= this.pending.capacity) this.flushRefs();
  }

  /** Inserts the pending objects and adds the gathered references to the older ones. */
  private flush(): void {
    this.peakEntries = Math.max(this.peakEntries, this.pending.size + this.pendingRefs.size);
    this.pending.flush(this.insertPending);
    this.objectRows.flush();
    this.flushRefs();
  }

  private flushRefs(): void {
    this.peakEntries = Math.max(this.peakEntries, this.pending.size + this.pendingRefs.size);
    const add = this.s.add_refs!;
    // Most objects gain one reference between flushes: those go a batch of ids per
    // statement, which halves the time these updates take.
    const ones: number[] = [];
    for (const [id, n] of this.pendingRefs) {
      if (n !== 1) {
        add.run(n, id);
        continue;
      }
      ones.push(id);
      if (ones.length === REF_BATCH) {
        this.s.add_one_ref_each!.run(JSON.stringify(ones));
        ones.length = 0;
      }
    }
    if (ones.length) this.s.add_one_ref_each!.run(JSON.stringify(ones));
    this.pendingRefs.clear();
    this.sampleRss();
  }

  private sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }
}

function validateMeta(meta: CheckpointMeta): void {
  if (!meta || !['proc', 'import', 'criu'].includes(meta.source)) {
    throw new CkptdbError('BAD_ARGUMENT', `checkpoint source must be proc, import or criu, not ${String(meta?.source)}`);
  }
  if (meta.rootPid != null && !Number.isInteger(meta.rootPid)) throw new CkptdbError('BAD_ARGUMENT', `root pid ${String(meta.rootPid)} is not an integer`);
}

/** Waits up to waitMs for another writer, then takes the store's write lock. */
function beginImmediate(db: Database.Database, waitMs: number): void {
  const previous = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY')) {
      throw new CkptdbError('STORE_BUSY', `store is busy: another checkpoint has been written for more than ${Math.round(waitMs / 1000)} s`, 'try again when it is done');
    }
    throw e;
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}
