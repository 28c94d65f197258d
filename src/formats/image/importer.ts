import type { Readable } from 'node:stream';
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { Int64, WriterResult } from '../../store/writer/types.js';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { badImage } from '../badImage.js';
import { CriuFileWriter } from '../criu/imageRecords.js';
import type { Fail, RecordRef } from './check.js';
import { ImageReader, type ImageReaderOptions, type LocatedRecord } from './reader.js';
import type { CheckpointRecord, FdRecord, FileRecord, ImageForm, ImageRecord, Int64Text, MapRecord, ObjectRecord, TaskRecord } from './types.js';

/** What an import may set that the input does not decide. */
export interface RecordImportOptions {
  /** The new checkpoint's label, instead of the one the input carries. */
  label?: string;
}

export interface ImportResult {
  checkpointId: number;
  /** Records read, checkpoint record included. */
  records: number;
  writer: WriterResult;
}

export interface ImageImportResult extends ImportResult {
  form: ImageForm;
}

/**
 * Imports an image (a path, '-' for stdin, or a stream) as a new checkpoint. Every record
 * is validated before it is written, and all of it is written in the writer's one
 * transaction: any problem, anywhere in the image, leaves the store as it was.
 */
export async function importImage(store: Store, source: string | Readable, opts: ImageReaderOptions & RecordImportOptions = {}): Promise<ImageImportResult> {
  const reader = new ImageReader(source, opts);
  const result = await importRecords(store, reader.batches(), (ref, field, message) => reader.fail(ref, field, message), opts);
  return { ...result, form: reader.form! };
}

/** Writes validated records, in the order given, through the checkpoint writer; all or nothing. */
export async function importRecords(
  store: Store,
  batches: AsyncIterable<LocatedRecord[]> | Iterable<LocatedRecord[]>,
  fail: Fail,
  opts: RecordImportOptions = {},
): Promise<ImportResult> {
  const w = new RecordWriter(store, fail, opts);
  try {
    for await (const batch of batches) {
      for (const { record, ref } of batch) w.write(record, ref);
    }
    return w.done();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/**
 * Turns image records into writer calls. Image ids become store ids by arithmetic:
 * objects are added in image-id order and each add makes the next row, so store id =
 * base + image id; an add that returns any other id met a key seen before.
 */
class RecordWriter {
  private writer: CheckpointWriter | null = null;
  private criuFiles: CriuFileWriter | null = null;
  private base = 0;
  private lastFd = 0;
  private lastMap = 0;
  private records = 0;

  constructor(private readonly store: Store, private readonly fail: Fail, private readonly opts: RecordImportOptions) {}

  write(r: ImageRecord, ref: RecordRef): void {
    try {
      this.records++;
      switch (r.record) {
        case 'checkpoint':
          return this.begin(r);
        case 'object':
          return this.object(r, ref);
        case 'file':
          return this.file(r, ref);
        case 'task':
          return this.task(r);
        case 'fd':
          return this.fd(r, ref);
        case 'map':
          return this.map(r, ref);
        case 'eventfd':
          return this.open().addEventfd({ file: this.base + r.file, counter: int64(r.counter)! });
        case 'epollTarget':
          return this.open().addEpollTarget({
            file: this.base + r.file, seq: r.seq, tfd: r.tfd, events: r.events, data: int64(r.data)!, inode: int64(r.inode), dev: r.dev, pos: int64(r.pos),
          });
        case 'inotifyWatch':
          return this.open().addInotifyWatch({ file: this.base + r.file, wd: r.wd, inode: int64(r.inode)!, dev: r.dev, mask: r.mask, ignoredMask: r.ignoredMask });
        case 'timerfd':
          return this.open().addTimerfd({
            file: this.base + r.file, clockid: r.clockid, ticks: int64(r.ticks)!, settimeFlags: r.settimeFlags, intervalNs: int64(r.intervalNs)!, valueNs: int64(r.valueNs)!,
          });
        case 'signalfd':
          return this.open().addSignalfd({ file: this.base + r.file, sigmask: r.sigmask });
        case 'tty':
          return this.open().addTty({ file: this.base + r.file, kind: r.kind, index: r.index, role: r.role, rdev: r.rdev, peer: this.storeId(r.peer) });
        case 'criuChunk':
          return this.criu().chunk(r);
        case 'criuImage':
          return this.criu().image(r, (field, message) => this.fail(ref, field, message));
      }
    } catch (e) {
      if (e instanceof CkptdbError && e.code === 'BAD_IMAGE') throw e;
      if (e instanceof CkptdbError && e.code === 'STORE_BUSY') throw e;
      return this.fail(ref, '', (e as Error).message);
    }
  }

  done(): ImportResult {
    const w = this.open();
    this.criuFiles?.finish();
    const writer = w.done();
    return { checkpointId: writer.checkpointId, records: this.records, writer };
  }

  abort(): void {
    this.writer?.abort();
  }

  private open(): CheckpointWriter {
    if (!this.writer) throw badImage('the image holds no checkpoint record');
    return this.writer;
  }

  private criu(): CriuFileWriter {
    this.criuFiles ??= new CriuFileWriter(this.store.db, this.open().checkpointId);
    return this.criuFiles;
  }

  private begin(r: CheckpointRecord): void {
    this.writer = this.store.beginCheckpoint({
      label: this.opts.label ?? r.label,
      source: r.source,
      host: r.host,
      kernel: r.kernel,
      rootPid: r.rootPid,
      frozen: r.frozen,
      startedAt: new Date(r.startedAt),
      ...(r.meta ? { meta: r.meta } : {}),
    });
  }

  private object(r: ObjectRecord, ref: RecordRef): void {
    const w = this.open();
    const id = w.addSharedObject({ kind: r.kind, key: r.key, inferred: r.inferred, ...(r.attrs ? { attrs: r.attrs } : {}) });
    this.expectNew(id, r.id, r.kind, r.key, ref);
    if (r.socket) {
      const s = r.socket;
      w.addSocket({
        object: id, family: s.family, type: s.type, protocol: s.protocol, state: s.state, localAddr: s.localAddr, localPort: s.localPort,
        remoteAddr: s.remoteAddr, remotePort: s.remotePort, peerIno: int64(s.peerIno), ...(s.attrs ? { attrs: s.attrs } : {}),
      });
    }
  }

  private file(r: FileRecord, ref: RecordRef): void {
    const id = this.open().addFile({
      key: r.key, type: r.type, path: r.path, pos: int64(r.pos), flags: r.flags, mode: r.mode, mntId: r.mntId, dev: r.dev,
      inode: int64(r.inode), deleted: r.deleted, object: this.storeId(r.object), inferred: r.inferred, unreadable: r.unreadable,
      ...(r.attrs ? { attrs: r.attrs } : {}),
    });
    this.expectNew(id, r.id, 'file', r.key, ref);
  }

  private task(r: TaskRecord): void {
    const namespaces: Record<string, number> = {};
    for (const [type, id] of Object.entries(r.namespaces)) namespaces[type] = this.base + id!;
    this.open().addTask({
      pid: r.pid, tgid: r.tgid, ppid: r.ppid, pgid: r.pgid, sid: r.sid, state: r.state, comm: r.comm,
      uid: r.uid, euid: r.euid, suid: r.suid, fsuid: r.fsuid, gid: r.gid, egid: r.egid, sgid: r.sgid, fsgid: r.fsgid,
      cmdline: r.cmdline, exe: r.exe, cwd: r.cwd, root: r.root, startTime: int64(r.startTime),
      sigPending: r.sigPending, sigBlocked: r.sigBlocked, sigIgnored: r.sigIgnored, sigCaught: r.sigCaught, env: r.env,
      mm: this.storeId(r.mm), fdtable: this.storeId(r.fdtable), fs: this.storeId(r.fs), sighand: this.storeId(r.sighand),
      namespaces,
      rlimits: r.rlimits.map((l) => ({ resource: l.resource, soft: int64(l.soft), hard: int64(l.hard) })),
      ...(r.unreadable ? { unreadable: r.unreadable } : {}),
      ...(r.attrs ? { attrs: r.attrs } : {}),
    });
  }

  private fd(r: FdRecord, ref: RecordRef): void {
    const id = this.open().addFd({ fdtable: this.base + r.fdtable, fd: r.fd, cloexec: r.cloexec, file: this.base + r.file });
    if (id <= this.lastFd) this.fail(ref, '/fd', `fd ${r.fd} of fd table ${r.fdtable} appears twice`);
    this.lastFd = id;
  }

  private map(r: MapRecord, ref: RecordRef): void {
    const id = this.open().addMap({
      mm: this.base + r.mm, start: r.start, end: r.end, perms: r.perms, pgoff: int64(r.pgoff), dev: r.dev, inode: int64(r.inode), path: r.path,
      ...(r.attrs ? { attrs: r.attrs } : {}),
    });
    if (id <= this.lastMap) this.fail(ref, '/start', `the map at ${r.start} of address space ${r.mm} appears twice`);
    this.lastMap = id;
  }

  private expectNew(storeId: number, imageId: number, kind: string, key: string, ref: RecordRef): void {
    if (imageId === 1) this.base = storeId - 1;
    if (storeId !== this.base + imageId) {
      this.fail(ref, '/key', `${kind} key ${JSON.stringify(key)} is already object ${storeId - this.base}: a key names one object`);
    }
  }

  private storeId(image: number | null): number | null {
    return image === null ? null : this.base + image;
  }
}

/** Decimal text to what the writer binds: a number while exact, a bigint beyond. */
function int64(text: Int64Text | null): Int64 | null {
  if (text === null) return null;
  return text.length < 16 ? Number(text) : BigInt(text);
}
