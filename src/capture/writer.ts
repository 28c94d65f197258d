import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { statement } from '../store/sqlFile.js';
import { addressText, flag, toJson } from '../store/values.js';
import type {
  CheckpointMeta,
  FdInput,
  FileInput,
  MapInput,
  ObjectId,
  SharedObjectInput,
  SharedObjectKind,
  SocketInput,
  TaskInput,
  WriterCounts,
  WriterOptions,
  WriterResult,
} from './types.js';
import { FILE_TYPES } from './types.js';

const DEFAULT_BUDGET = 4 * 1024 * 1024;
const DEFAULT_WAIT_MS = 10 * 60 * 1000;
/** What one entry of the pending-refcount map or the kind cache costs, roughly. */
const ENTRY_BYTES = 80;
/** Objects whose refcount one statement raises by one. */
const REF_BATCH = 256;

const TASK_REFS = [
  ['mm', 'mm'],
  ['fdtable', 'fdtable'],
  ['fs', 'fs'],
  ['sighand', 'sighand'],
] as const;

type Stmt = Database.Statement<unknown[]>;

function prepare(db: Database.Database, name: string): Stmt {
  return db.prepare(statement('internal/writer.sql', name));
}

/**
 * Writes one checkpoint. Every add goes straight to SQLite inside one transaction
 * that commits at done(); until then no reader sees any of it, and abort(), an error
 * or the death of the process leaves nothing behind.
 *
 * What the writer keeps in memory is bounded by the budget: refcount increments are
 * gathered and flushed in batches, and object kinds are cached for validating
 * references. Everything else lives in SQLite.
 */
export class CheckpointWriter {
  readonly checkpointId: number;
  private open = true;
  private readonly s: Record<string, Stmt>;
  /** Ids of this checkpoint's shared objects lie in (floor, ceiling]. */
  private readonly objectFloor: number;
  private objectCeiling: number;
  private readonly pendingRefs = new Map<number, number>();
  private readonly kinds = new Map<number, SharedObjectKind>();
  private readonly maxEntries: number;
  private peakEntries = 0;
  private peakRss = 0;
  private readonly counts: WriterCounts = { tasks: 0, fds: 0, files: 0, sharedObjects: 0, maps: 0, sockets: 0 };
  private readonly meta: CheckpointMeta;

  constructor(private readonly db: Database.Database, meta: CheckpointMeta, opts: WriterOptions = {}) {
    if (db.inTransaction) throw new CkptdbError('STORE_BUSY', 'a checkpoint is already being written on this store connection');
    validateMeta(meta);
    this.meta = meta;
    this.maxEntries = Math.max(1024, Math.floor((opts.memoryBudget ?? DEFAULT_BUDGET) / ENTRY_BYTES / 2));
    beginImmediate(db, opts.waitMs ?? DEFAULT_WAIT_MS);
    try {
      this.s = {};
      for (const name of [
        'insert_object', 'find_object', 'object_kind', 'mark_inferred', 'add_refs', 'add_one_ref_each', 'insert_file', 'insert_task', 'find_task',
        'insert_namespace', 'insert_rlimit', 'insert_fd', 'find_fd', 'insert_map', 'find_map', 'insert_socket',
        'finish_checkpoint',
      ]) {
        this.s[name] = prepare(db, name);
      }
      this.objectFloor = Number(prepare(db, 'max_object_id').pluck().get());
      this.objectCeiling = this.objectFloor;
      const started = (meta.startedAt ?? new Date()).toISOString();
      const info = prepare(db, 'insert_checkpoint').run(
        meta.label ?? null, meta.source, meta.host === undefined ? hostname() : meta.host, meta.kernel ?? null, meta.rootPid ?? null,
        flag(meta.frozen), started, started, toJson(meta.meta),
      );
      this.checkpointId = Number(info.lastInsertRowid);
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Adds a kernel object that references can point to; a key seen before returns its id. */
  addSharedObject(o: SharedObjectInput): ObjectId {
    return this.guard(() => {
      if ((o.kind as string) === 'file') throw new CkptdbError('BAD_ARGUMENT', 'shared object of kind file: add open files with addFile');
      return this.object(o.kind, o.key, o.inferred, o.attrs).id;
    });
  }

  /**
   * Marks an object's sharing as inferred after it was added: a streaming source may
   * learn only later that a guess was involved.
   */
  markInferred(id: ObjectId): void {
    this.guard(() => {
      this.checkReference(id, ['file', 'inode', 'pipe', 'socket', 'anon', 'mm', 'fdtable', 'fs', 'sighand', 'ns'], `object ${id}`);
      this.s.mark_inferred!.run(id, this.checkpointId);
    });
  }

  /** Adds an open file description; a key seen before returns its id. */
  addFile(f: FileInput): ObjectId {
    return this.guard(() => {
      if (!FILE_TYPES.includes(f.type)) throw new CkptdbError('BAD_ARGUMENT', `file ${f.key}: unknown type ${String(f.type)}`);
      const { id, created } = this.object('file', f.key, f.inferred, undefined);
      if (!created) return id;
      if (f.object != null) this.reference(f.object, ['inode', 'pipe', 'socket', 'anon'], `file ${f.key}: object`);
      this.s.insert_file!.run(
        id, this.checkpointId, f.type, f.path ?? null, f.pos ?? null, f.flags ?? null, f.mode ?? null,
        f.mntId ?? null, f.dev ?? null, f.inode ?? null, flag(f.deleted), f.object ?? null, f.unreadable ?? null,
        toJson(f.attrs),
      );
      this.counts.files++;
      return id;
    });
  }

  /** Adds one thread with its namespaces and resource limits; a pid seen before returns its id. */
  addTask(t: TaskInput): ObjectId {
    return this.guard(() => {
      if (!Number.isInteger(t.pid) || !Number.isInteger(t.tgid)) throw new CkptdbError('BAD_ARGUMENT', `task ${t.pid}: pid and tgid must be integers`);
      for (const [field, kind] of TASK_REFS) {
        const ref = t[field];
        if (ref != null) this.checkReference(ref, [kind], `task ${t.pid}: ${field}`);
      }
      const nsEntries = Object.entries(t.namespaces ?? {});
      for (const [type, ref] of nsEntries) this.checkReference(ref, ['ns'], `task ${t.pid}: namespace ${type}`);

      const info = this.s.insert_task!.run(
        this.checkpointId, t.pid, t.tgid, t.ppid ?? null, t.pgid ?? null, t.sid ?? null, t.state ?? null, t.comm ?? null,
        t.uid ?? null, t.euid ?? null, t.suid ?? null, t.fsuid ?? null, t.gid ?? null, t.egid ?? null, t.sgid ?? null, t.fsgid ?? null,
        toJson(t.cmdline), t.exe ?? null, t.cwd ?? null, t.root ?? null, t.startTime ?? null,
        t.sigPending ?? null, t.sigBlocked ?? null, t.sigIgnored ?? null, t.sigCaught ?? null, toJson(t.env),
        t.mm ?? null, t.fdtable ?? null, t.fs ?? null, t.sighand ?? null,
        t.unreadable && Object.keys(t.unreadable).length ? toJson(t.unreadable) : null, toJson(t.attrs),
      );
      if (info.changes === 0) return Number(this.s.find_task!.pluck().get(this.checkpointId, t.pid));
      const id = Number(info.lastInsertRowid);
      for (const [field] of TASK_REFS) {
        const ref = t[field];
        if (ref != null) this.countReference(ref);
      }
      for (const [type, ref] of nsEntries) {
        this.s.insert_namespace!.run(this.checkpointId, id, type, ref);
        this.countReference(ref!);
      }
      for (const r of t.rlimits ?? []) this.s.insert_rlimit!.run(this.checkpointId, id, r.resource, r.soft, r.hard);
      this.counts.tasks++;
      return id;
    });
  }

  /** Adds an fd slot pointing at an open file; an (fd table, fd) seen before returns its id. */
  addFd(f: FdInput): ObjectId {
    return this.guard(() => {
      if (!Number.isInteger(f.fd) || f.fd < 0) throw new CkptdbError('BAD_ARGUMENT', `fd ${f.fd}: not a file descriptor number`);
      this.checkReference(f.fdtable, ['fdtable'], `fd ${f.fd}: fdtable`);
      this.checkReference(f.file, ['file'], `fd ${f.fd}: file`);
      const info = this.s.insert_fd!.run(this.checkpointId, f.fdtable, f.fd, flag(f.cloexec), f.file);
      if (info.changes === 0) return Number(this.s.find_fd!.pluck().get(f.fdtable, f.fd));
      this.countReference(f.file);
      this.counts.fds++;
      return Number(info.lastInsertRowid);
    });
  }

  /** Adds a memory mapping of an address space; a start address seen before returns its id. */
  addMap(m: MapInput): ObjectId {
    return this.guard(() => {
      this.checkReference(m.mm, ['mm'], `map ${String(m.start)}: mm`);
      const start = addressText(m.start, 'map start');
      const end = addressText(m.end, 'map end');
      if (end <= start) throw new CkptdbError('BAD_ARGUMENT', `map ${start}: end ${end} is not above start`);
      const info = this.s.insert_map!.run(
        this.checkpointId, m.mm, start, end, m.perms, m.pgoff ?? null, m.dev ?? null, m.inode ?? null, m.path ?? null, toJson(m.attrs),
      );
      if (info.changes === 0) return Number(this.s.find_map!.pluck().get(m.mm, start));
      this.counts.maps++;
      return Number(info.lastInsertRowid);
    });
  }

  /** Records what the kernel shows of a socket object; the first details given win. */
  addSocket(s: SocketInput): ObjectId {
    return this.guard(() => {
      this.checkReference(s.object, ['socket'], 'socket details: object');
      const info = this.s.insert_socket!.run(
        s.object, this.checkpointId, s.family ?? null, s.type ?? null, s.protocol ?? null, s.state ?? null,
        s.localAddr ?? null, s.localPort ?? null, s.remoteAddr ?? null, s.remotePort ?? null, s.peerIno ?? null, toJson(s.attrs),
      );
      if (info.changes) this.counts.sockets++;
      return s.object;
    });
  }

  /** Commits the checkpoint: from now on readers see all of it. */
  done(extraMeta?: Record<string, unknown>): WriterResult {
    return this.guard(() => {
      this.flushRefs();
      const meta = extraMeta ? { ...this.meta.meta, ...extraMeta } : this.meta.meta;
      this.s.finish_checkpoint!.run(new Date().toISOString(), flag(this.meta.frozen), toJson(meta), this.checkpointId);
      this.db.exec('COMMIT');
      this.open = false;
      this.sampleRss();
      return {
        checkpointId: this.checkpointId,
        counts: { ...this.counts },
        peakBufferedBytes: this.peakEntries * ENTRY_BYTES,
        peakRss: this.peakRss,
      };
    });
  }

  /** Drops everything written so far. Safe to call more than once. */
  abort(): void {
    if (!this.open) return;
    this.open = false;
    this.pendingRefs.clear();
    this.kinds.clear();
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Marks the checkpoint as taken from a frozen tree; recorded at done(). */
  setFrozen(frozen: boolean): void {
    this.meta.frozen = frozen;
  }

  private guard<T>(fn: () => T): T {
    if (!this.open) throw new CkptdbError('WRITER_CLOSED', `checkpoint ${this.checkpointId} is no longer being written`);
    try {
      return fn();
    } catch (e) {
      this.abort();
      if (e instanceof CkptdbError) throw e;
      const err = e as { code?: string; message: string };
      if (err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new CkptdbError('DANGLING_REFERENCE', `checkpoint ${this.checkpointId}: ${err.message}`, undefined, { cause: e });
      }
      throw new CkptdbError('SQL_ERROR', `checkpoint ${this.checkpointId}: ${err.message}`, undefined, { cause: e });
    }
  }

  private object(kind: SharedObjectKind, key: string, inferred: boolean | undefined, attrs: Record<string, unknown> | undefined) {
    if (typeof key !== 'string' || key === '') throw new CkptdbError('BAD_ARGUMENT', `${kind} object: key must be a non-empty string`);
    const info = this.s.insert_object!.run(this.checkpointId, kind, key, flag(inferred), toJson(attrs));
    if (info.changes === 0) {
      return { id: Number(this.s.find_object!.pluck().get(this.checkpointId, kind, key)), created: false };
    }
    const id = Number(info.lastInsertRowid);
    this.objectCeiling = id;
    this.counts.sharedObjects++;
    this.remember(id, kind);
    return { id, created: true };
  }

  private reference(id: ObjectId, kinds: readonly SharedObjectKind[], what: string): void {
    this.checkReference(id, kinds, what);
    this.countReference(id);
  }

  /** A reference must name an object of this checkpoint, of a kind that fits. */
  private checkReference(id: ObjectId, kinds: readonly SharedObjectKind[], what: string): void {
    if (!Number.isInteger(id) || id <= this.objectFloor || id > this.objectCeiling) {
      throw new CkptdbError('DANGLING_REFERENCE', `${what} refers to object ${String(id)}, which does not exist in checkpoint ${this.checkpointId}`);
    }
    let kind = this.kinds.get(id);
    if (kind === undefined) {
      kind = this.s.object_kind!.pluck().get(id, this.checkpointId) as SharedObjectKind | undefined;
      if (kind === undefined) {
        throw new CkptdbError('DANGLING_REFERENCE', `${what} refers to object ${id}, which does not exist in checkpoint ${this.checkpointId}`);
      }
      this.remember(id, kind);
    }
    if (!kinds.includes(kind)) {
      throw new CkptdbError('WRONG_KIND', `${what} refers to object ${id} of kind ${kind}; expected ${kinds.join(' or ')}`);
    }
  }

  private countReference(id: ObjectId): void {
    this.pendingRefs.set(id, (this.pendingRefs.get(id) ?? 0) + 1);
    if (this.pendingRefs.size >= this.maxEntries) this.flushRefs();
  }

  private remember(id: number, kind: SharedObjectKind): void {
    if (this.kinds.size >= this.maxEntries) this.kinds.clear();
    this.kinds.set(id, kind);
  }

  private flushRefs(): void {
    this.peakEntries = Math.max(this.peakEntries, this.pendingRefs.size + this.kinds.size);
    const add = this.s.add_refs!;
    // Most objects gain one reference between flushes: those go a batch of ids per
    // statement, which halves the time refcounts take on a large capture.
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
