/**
 * What the mount reads of the store (mount.sql), one row or record at a time: the
 * checkpoints and their commits, the restore image's records as export --format tree
 * makes them, the rows the tree's big folders list, CRIU's files and memory.
 *
 * A checkpoint's image ids are numbered once, the first time they are needed, as its
 * export numbers them, into TEMP tables of this connection; records are read as they
 * are asked for, and the last few dozen kept for the requests that follow (a listing,
 * then reads of its files). Commits of other connections are caught up with through
 * PRAGMA data_version.
 */
import type Database from 'better-sqlite3';
import { ChunkReader } from '../store/chunks.js';
import { processesWithPages } from '../store/pages.js';
import { namedStatements, statement } from '../store/sqlFile.js';
import type { NamespaceType } from '../store/writer/types.js';
import { dropRestoreOrder, numberRestoreOrder } from '../formats/image/exporter.js';
import { checkpointRecord, fileRecord, getter, mapRecord, objectRecord, taskRecord, type Row } from '../formats/image/records.js';
import type { CheckpointRecord, CriuImageRecord, FdRecord, FileDetailRecord, FileRecord, ImageRecord, RlimitRecord, TaskRecord } from '../formats/image/types.js';
import { MemoryFile, readImage } from './memory.js';

const SQL = 'internal/mount.sql';
/** Records kept: enough for a listing and the reads of its files that follow it. */
const KEPT = 64;

type Stmt = Database.Statement<unknown[]>;

/** A checkpoint's commit: its generation for the kernel, and the time its files show. */
export interface Incarnation {
  generation: number;
  sec: number;
  nsec: number;
}

/** A record with the checkpoint it belongs to. */
export interface Placed<R = ImageRecord> {
  record: R;
  checkpointId: number;
}

export interface KeptFile {
  id: number;
  checkpointId: number;
  name: string;
  size: number;
}

export class StoreReader {
  /** The newest checkpoint, null in an empty store. */
  newest: number | null = null;
  /** The root's mtime: it changes whenever the set of checkpoints does. */
  rootTime: Incarnation = { generation: 0, sec: 0, nsec: 0 };
  private readonly s: Record<string, Stmt> = {};
  private readonly chunks: ChunkReader;
  private dataVersion = -1;
  /** Checkpoints by id: their commit, or null when there is none. */
  private readonly incarnations = new Map<number, Incarnation | null>();
  /** Checkpoints numbered in mount_objects, with the commit they were numbered at. */
  private readonly numbered = new Map<number, string>();
  private readonly kept = new Map<string, unknown>();

  constructor(private readonly db: Database.Database) {
    for (const sql of namedStatements(SQL).get('create_tables')!) db.exec(sql);
    for (const [name, all] of namedStatements(SQL)) if (all.length === 1) this.s[name] = db.prepare(all[0]!);
    this.s.checkpoint = db.prepare(statement('internal/image.sql', 'checkpoint'));
    this.s.task_rlimits = db.prepare(statement('internal/image.sql', 'task_rlimits'));
    for (const name of ['data_version', 'checkpoint_finished', 'image_chunk_numbers', 'chunk_by_number']) this.s[name]!.pluck();
    this.chunks = new ChunkReader(db);
  }

  /**
   * Catches up with commits of other connections: checkpoints added or removed change
   * the root; the numbers and records of a removed checkpoint are dropped, so that an
   * id that comes back is read anew.
   */
  refresh(): void {
    const version = this.s.data_version!.get() as number;
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    this.incarnations.clear();
    this.kept.clear();
    const sig = this.s.store_signature!.get() as { n: number; ids: number; newest: number | null; finished: string };
    this.newest = sig.newest;
    this.rootTime = { generation: 0, sec: timeOf(sig.finished).sec, nsec: (sig.n * 1_000_003 + sig.ids) % 1_000_000_000 };
    for (const [id, finished] of this.numbered) {
      if (this.s.checkpoint_finished!.get({ id }) === finished) continue;
      for (const sql of namedStatements(SQL).get('forget_numbering')!) this.db.prepare(sql).run({ id });
      this.numbered.delete(id);
    }
  }

  /** The commit of checkpoint id, null when there is no such checkpoint. */
  incarnation(id: number): Incarnation | null {
    let inc = this.incarnations.get(id);
    if (inc !== undefined) return inc;
    const finished = this.s.checkpoint_finished!.get({ id }) as string | undefined;
    inc = finished === undefined ? null : { generation: hash(finished), ...timeOf(finished) };
    this.incarnations.set(id, inc);
    return inc;
  }

  /** Something read from the store, kept for the requests that follow. */
  keep<T>(key: string, read: () => T | null): T | null {
    if (this.kept.has(key)) {
      const v = this.kept.get(key) as T | null;
      this.kept.delete(key);
      this.kept.set(key, v);
      return v;
    }
    const v = read();
    this.kept.set(key, v);
    if (this.kept.size > KEPT) this.kept.delete(this.kept.keys().next().value!);
    return v;
  }

  /**
   * Numbers a checkpoint's objects and chunks as its export does, once, in a read
   * transaction, so that a checkpoint removed meanwhile does not tear it.
   */
  number(checkpointId: number): void {
    if (this.numbered.has(checkpointId)) return;
    const db = this.db;
    db.exec('BEGIN');
    try {
      const finished = this.s.checkpoint_finished!.get({ id: checkpointId }) as string | undefined;
      if (finished === undefined) return;
      numberRestoreOrder(db, checkpointId);
      for (const sql of namedStatements('internal/criu.sql').get('create_chunk_order')!) db.exec(sql);
      db.prepare(statement('internal/criu.sql', 'number_chunks')).run({ checkpoint_id: checkpointId });
      for (const sql of namedStatements(SQL).get('save_numbering')!) db.prepare(sql).run(sql.includes(':finished_at') ? { id: checkpointId, finished_at: finished } : { id: checkpointId });
      this.numbered.set(checkpointId, finished);
    } finally {
      dropRestoreOrder(db);
      for (const sql of namedStatements('internal/criu.sql').get('drop_chunk_order')!) db.exec(sql);
      if (db.inTransaction) db.exec('COMMIT');
    }
  }

  // --- rows the big folders list, from a key on, and one by its name

  checkpointsFrom(from: number): IterableIterator<{ id: number }> {
    return this.s.checkpoints_from!.iterate({ from }) as IterableIterator<{ id: number }>;
  }

  /** Which of objects/, files/ and criu/ a checkpoint has. */
  checkpointParts(id: number): { objects: number; files: number; criu: number } {
    return this.s.checkpoint_parts!.get({ id }) as { objects: number; files: number; criu: number };
  }

  tasksFrom(id: number, pid: number): IterableIterator<{ id: number; pid: number }> {
    return this.s.tasks_from!.iterate({ id, from: pid }) as IterableIterator<{ id: number; pid: number }>;
  }

  taskByPid(id: number, pid: number): number | null {
    return (this.s.task_by_pid!.get({ id, pid }) as { id: number } | undefined)?.id ?? null;
  }

  /** Objects (or open files) of a numbered checkpoint from an image id on. */
  objectsFrom(id: number, image: number, files: boolean): IterableIterator<{ image_id: number; object_id: number }> {
    return this.s.objects_from!.iterate({ id, from: image, is_file: files ? 1 : 0 }) as IterableIterator<{ image_id: number; object_id: number }>;
  }

  objectByImage(id: number, image: number, files: boolean): number | null {
    return (this.s.object_by_image!.get({ id, image, is_file: files ? 1 : 0 }) as { object_id: number } | undefined)?.object_id ?? null;
  }

  fdsFrom(checkpointId: number, fdtable: number, fd: number): IterableIterator<{ id: number; fd: number }> {
    return this.s.fds_from!.iterate({ id: checkpointId, fdtable, from: fd }) as IterableIterator<{ id: number; fd: number }>;
  }

  fdByNumber(checkpointId: number, fdtable: number, fd: number): number | null {
    return (this.s.fd_by_number!.get({ id: checkpointId, fdtable, fd }) as { id: number } | undefined)?.id ?? null;
  }

  mapsOf(checkpointId: number, mm: number): IterableIterator<{ id: number; start_addr: string }> {
    return this.s.maps_of!.iterate({ id: checkpointId, mm }) as IterableIterator<{ id: number; start_addr: string }>;
  }

  mapByStart(checkpointId: number, mm: number, start: string): number | null {
    return (this.s.map_by_start!.get({ id: checkpointId, mm, start }) as { id: number } | undefined)?.id ?? null;
  }

  /** Chunks of a numbered checkpoint's CRIU files by number, from n on. */
  chunksFrom(id: number, n: number): IterableIterator<{ n: number; chunk_id: number }> {
    return this.s.chunks_from!.iterate({ id, from: n }) as IterableIterator<{ n: number; chunk_id: number }>;
  }

  /** The chunk numbered n in a checkpoint, null when there is none. */
  chunkByNumber(id: number, n: number): number | null {
    if (!this.incarnation(id)) return null;
    this.number(id);
    return (this.s.chunk_by_number!.get({ id, n }) as number | undefined) ?? null;
  }

  /** The bytes of a chunk by its row. */
  chunk(chunkId: number): Buffer {
    return this.chunks.chunk(chunkId);
  }

  // --- records

  checkpoint(id: number): CheckpointRecord | null {
    return this.keep(`c${id}`, () => {
      const row = this.s.checkpoint!.get({ id }) as Row | undefined;
      return row ? checkpointRecord(row) : null;
    });
  }

  object(id: number): Placed | null {
    return this.keep(`o${id}`, () => {
      const row = this.numberedRow('object_checkpoint', 'object', id);
      return row && { record: objectRecord(getter(row)), checkpointId: row.checkpoint_id as number };
    });
  }

  /** An open file with its details (an anonymous file's, a tty's), each seq and wd in order. */
  file(id: number): (Placed<FileRecord> & { details: FileDetailRecord[] }) | null {
    return this.keep(`f${id}`, () => {
      const row = this.numberedRow('file_checkpoint', 'file', id);
      if (!row) return null;
      const record = fileRecord(getter(row));
      const checkpointId = row.checkpoint_id as number;
      const details = (this.s.file_details!.all({ checkpoint: checkpointId, id }) as { record: FileDetailRecord['record']; fields: string }[])
        .map((d) => ({ record: d.record, file: record.id, ...(JSON.parse(d.fields) as object) }) as FileDetailRecord)
        // in one order always: nodes of epoll targets and inotify watches are numbered by their places
        .sort((x, y) => x.record.localeCompare(y.record) || entryKey(x) - entryKey(y));
      return { record, checkpointId, details };
    });
  }

  fd(id: number): Placed | null {
    return this.keep(`d${id}`, () => {
      const row = this.numberedRow('fd_checkpoint', 'fd', id);
      if (!row) return null;
      const record: FdRecord = { record: 'fd', fdtable: row.fdtable as number, fd: row.fd as number, cloexec: row.cloexec === 1, file: row.file as number };
      return { record, checkpointId: row.checkpoint_id as number };
    });
  }

  map(id: number): Placed | null {
    return this.keep(`m${id}`, () => {
      const row = this.numberedRow('map_checkpoint', 'map', id);
      return row && { record: mapRecord(row, row.mm as number), checkpointId: row.checkpoint_id as number };
    });
  }

  task(id: number): Placed<TaskRecord> | null {
    return this.keep(`t${id}`, () => {
      const checkpointId = (this.s.task_checkpoint!.get({ task: id }) as { checkpoint_id: number } | undefined)?.checkpoint_id;
      if (checkpointId === undefined) return null;
      this.number(checkpointId);
      const t = this.s.task!.get({ task: id }) as Row | undefined;
      if (!t) return null;
      const namespaces = this.s.task_namespaces!.raw().all({ id: checkpointId, task: id }) as [NamespaceType, number][];
      return { record: taskRecord(t, namespaces, this.s.task_rlimits!.all({ id: checkpointId, task: id }) as RlimitRecord[]), checkpointId };
    });
  }

  /** A file CRIU wrote, as the restore image's record: its chunks by their numbers in the checkpoint. */
  keptFileRecord(id: number): Placed<CriuImageRecord> | null {
    return this.keep(`i${id}`, () => {
      const img = this.s.image!.get({ id }) as Row | undefined;
      if (!img) return null;
      const checkpointId = img.checkpoint_id as number;
      this.number(checkpointId);
      const chunks = this.s.image_chunk_numbers!.all({ id, checkpoint_id: checkpointId }) as number[];
      const record: CriuImageRecord = {
        record: 'criuImage', name: img.name as string, kind: img.kind as string | null, role: img.role as CriuImageRecord['role'],
        headMagic: img.head_magic as number | null, size: img.size as number, entries: img.entries as number | null, chunks,
      };
      return { record, checkpointId };
    });
  }

  keptFile(id: number): KeptFile | null {
    return this.keep(`k${id}`, () => {
      const img = this.s.image!.get({ id }) as Row | undefined;
      return img ? { id, checkpointId: img.checkpoint_id as number, name: img.name as string, size: img.size as number } : null;
    });
  }

  /** The files CRIU wrote for a checkpoint, by name. */
  keptFiles(checkpointId: number): KeptFile[] {
    return this.keep(`ks${checkpointId}`, () => (this.s.images!.all({ id: checkpointId }) as Omit<KeptFile, 'checkpointId'>[]).map((f) => ({ ...f, checkpointId })))!;
  }

  readKeptFile(file: KeptFile, offset: number, length: number): Buffer {
    return readImage(this.chunks, file.id, file.size, offset, length);
  }

  /** The memory of a task's process (its thread group), null where the checkpoint holds none. */
  memory(task: number): MemoryFile | null {
    return this.keep(`mem${task}`, () => {
      const t = this.task(task);
      if (!t) return null;
      const withPages = this.keep(`pages${t.checkpointId}`, () => new Set(processesWithPages(this.db, t.checkpointId)))!;
      return withPages.has(t.record.tgid) ? MemoryFile.open(this.db, t.checkpointId, t.record.tgid) : null;
    });
  }

  /**
   * A row that joins mount_objects for its image ids: found once its checkpoint is
   * numbered, so when it is not found, the row's checkpoint is numbered and it is read
   * again.
   */
  private numberedRow(checkpointOf: string, row: string, id: number): Row | null {
    const found = this.s[row]!.get({ id }) as Row | undefined;
    if (found) return found;
    const c = this.s[checkpointOf]!.get({ id }) as { checkpoint_id: number } | undefined;
    if (!c || this.numbered.has(c.checkpoint_id)) return null;
    this.number(c.checkpoint_id);
    return (this.s[row]!.get({ id }) as Row | undefined) ?? null;
  }
}

const entryKey = (d: FileDetailRecord): number => ('seq' in d ? d.seq : 'wd' in d ? d.wd : 0);

function timeOf(iso: string): { sec: number; nsec: number } {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { sec: 0, nsec: 0 };
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}

/** FNV-1a of a checkpoint's commit time: its generation, never 0. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) + 1;
}
