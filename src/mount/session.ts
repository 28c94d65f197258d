/**
 * One serving thread of a FUSE connection: reads a request from /dev/fuse, answers it
 * from the file system, writes the reply, and again; all synchronously, since the store
 * is read synchronously too. A round trip is then one read and one write of the device,
 * with no hop between threads. Several threads may serve one connection at once.
 */
import { writeSync, writevSync } from 'node:fs';
import { errnoName } from '../errno.js';
import { ERRNO, RequestReader } from './device.js';
import type { RequestStats } from './stats.js';
import {
  ATTR_OUT_SIZE, ENTRY_OUT_SIZE, IN_HEADER_SIZE, INIT_FLAGS, INIT_OUT_SIZE, KERNEL_MAJOR, KERNEL_MINOR, NO_ENTRY, OP, OUT_HEADER_SIZE,
  SEEK_DATA, SEEK_HOLE, STATFS_OUT_SIZE, direntSize, direntType, readInHeader, readInitIn, readLseekIn, readName, readReadIn,
  writeAttrOut, writeDirent, writeEntryOut, writeInitOut, writeOutHeader, writeStatfsOut, writeU64Out, type Attr, type Entry,
} from './protocol.js';

/** A directory entry with the offset of the one after it. */
export interface DirEntry {
  name: string;
  /** The offset the listing continues from after this entry. */
  next: number;
  entry: Entry;
}

/** What a read-only file system answers. Node 1 is the root. */
export interface FileSystem {
  /** null: no such name (ENOENT). */
  lookup(parent: number, name: string): Entry | null;
  getattr(node: number): { attr: Attr; timeout: number } | null;
  readlink(node: number): string | null;
  /** The bytes from offset, at most size of them; null: no such node. */
  read(node: number, offset: number, size: number): Buffer | null;
  /**
   * The entries after offset, null when node is no directory. An entry may be one
   * object filled anew for each: the session is done with it when it asks for the next. Offset 2 is the start
   * ("." and ".." take 0 and 1); any other is a `next` this file system gave, so every
   * `next` is above 2.
   */
  readdir(node: number, offset: number): Iterable<DirEntry> | null;
  /** SEEK_DATA / SEEK_HOLE: the next offset with data or with a hole; null when there is none (ENXIO). */
  seek(node: number, offset: number, whence: typeof SEEK_DATA | typeof SEEK_HOLE): number | null;
  statfs(): { blocks: number; files: number };
}

/** The largest read answered at once (MAX_PAGES pages). */
const MAX_PAGES = 256;
const IN_BUFFER = 64 * 1024;
const OUT_BUFFER = 64 * 1024;
const WANTED_FLAGS = INIT_FLAGS.ASYNC_READ | INIT_FLAGS.AUTO_INVAL_DATA | INIT_FLAGS.DO_READDIRPLUS | INIT_FLAGS.PARALLEL_DIROPS | INIT_FLAGS.MAX_PAGES;

export interface ServeOptions {
  /** Set to non-zero (Atomics) to make the thread return. */
  stop: Int32Array;
  /** Called with a failure of the file system while answering a request, which got EIO. */
  onError?: (e: unknown) => void;
  /** Counts requests and times them (CKPTDB_MOUNT_STATS). */
  stats?: RequestStats;
}

export type ServeEnd = 'unmounted' | 'stopped';

/** Serves requests until the mount goes away (ENODEV) or stop is set. */
export function serve(fd: number, fs: FileSystem, opts: ServeOptions): ServeEnd {
  const inBuf = Buffer.allocUnsafe(IN_BUFFER);
  const out = Buffer.allocUnsafe(OUT_BUFFER);
  const reader = new RequestReader(fd);
  try {
    return loop(fs, opts, inBuf, reader, new Replier(fd, out, opts.stats ?? null));
  } finally {
    reader.close();
  }
}

/**
 * Where the listing in this thread's last reply ran out, good for the next request only.
 * A reader lists a folder until it gets nothing: each listing's last reply is followed by
 * a request from its end, which is answered empty without looking at the file system. That
 * is half the requests of a walk such as `ls -R`. The root is left out: its entries
 * change (checkpoints come and go), so its end is always looked up.
 */
interface ListingEnd {
  node: number;
  offset: number;
}

const ROOT_NODE = 1;

function loop(fs: FileSystem, opts: ServeOptions, inBuf: Buffer, reader: RequestReader, reply: Replier): ServeEnd {
  const listed: ListingEnd = { node: 0, offset: 0 };
  for (;;) {
    if (Atomics.load(opts.stop, 0) !== 0) return 'stopped';
    const r = reader.read(inBuf, 250);
    if ('errno' in r) {
      // ENODEV: unmounted; ENOENT: the request was interrupted before it was read
      if (r.errno === ERRNO.ENODEV) return 'unmounted';
      if (r.errno === ERRNO.ENOENT || r.errno === ERRNO.EINTR) continue;
      throw new Error(`reading /dev/fuse failed: ${errnoName(r.errno)}`);
    }
    if (r.bytes === 0) continue;
    const h = readInHeader(inBuf);
    opts.stats?.begin(h.opcode);
    const last = listed.node === h.nodeid ? listed.offset : -1;
    listed.node = 0;
    try {
      if (handle(fs, h.opcode, h.nodeid, h.unique, inBuf, r.bytes, reply, last, listed) === 'destroy') return 'unmounted';
    } catch (e) {
      opts.onError?.(e);
      reply.error(h.unique, ERRNO.EIO);
    }
    opts.stats?.end();
  }
}

/** listedTo: where this node's listing ran out in the reply before, -1 when unknown; listed: where this reply's does. */
function handle(fs: FileSystem, opcode: number, node: number, unique: bigint, b: Buffer, len: number, reply: Replier, listedTo: number, listed: ListingEnd): 'destroy' | void {
  const at = IN_HEADER_SIZE;
  switch (opcode) {
    case OP.INIT: {
      const init = readInitIn(b, at);
      if (init.major !== KERNEL_MAJOR) return reply.error(unique, ERRNO.EPROTO);
      const o = reply.body(INIT_OUT_SIZE);
      writeInitOut(o, OUT_HEADER_SIZE, {
        minor: Math.min(init.minor, KERNEL_MINOR),
        maxReadahead: init.maxReadahead,
        flags: init.flags & WANTED_FLAGS,
        maxPages: MAX_PAGES,
      });
      return reply.send(unique, INIT_OUT_SIZE);
    }
    case OP.LOOKUP: {
      const e = fs.lookup(node, readName(b, at, len));
      if (!e) return reply.error(unique, ERRNO.ENOENT);
      writeEntryOut(reply.body(ENTRY_OUT_SIZE), OUT_HEADER_SIZE, e);
      return reply.send(unique, ENTRY_OUT_SIZE);
    }
    case OP.GETATTR: {
      const a = fs.getattr(node);
      if (!a) return reply.error(unique, ERRNO.ENOENT);
      writeAttrOut(reply.body(ATTR_OUT_SIZE), OUT_HEADER_SIZE, a.attr, a.timeout);
      return reply.send(unique, ATTR_OUT_SIZE);
    }
    case OP.READLINK: {
      const target = fs.readlink(node);
      if (target === null) return reply.error(unique, ERRNO.EINVAL);
      const o = reply.body(0);
      const n = o.write(target, OUT_HEADER_SIZE, 'utf8');
      return reply.send(unique, n);
    }
    case OP.READ: {
      const { offset, size } = readReadIn(b, at);
      const data = fs.read(node, offset, Math.min(size, MAX_PAGES * 4096));
      if (!data) return reply.error(unique, ERRNO.ENOENT);
      return reply.data(unique, data);
    }
    case OP.READDIR:
    case OP.READDIRPLUS: {
      const { offset, size } = readReadIn(b, at);
      if (offset === listedTo) return reply.send(unique, 0);
      const entries = fs.readdir(node, Math.max(offset, 2));
      if (!entries) return reply.error(unique, ERRNO.ENOTDIR);
      const filled = fillDir(reply.body(0), entries, offset, Math.min(size, OUT_BUFFER - OUT_HEADER_SIZE), opcode === OP.READDIRPLUS);
      if (filled.end !== null && node !== ROOT_NODE) {
        listed.node = node;
        listed.offset = filled.end;
      }
      return reply.send(unique, filled.used);
    }
    case OP.LSEEK: {
      const { offset, whence } = readLseekIn(b, at);
      if (whence !== SEEK_DATA && whence !== SEEK_HOLE) return reply.error(unique, ERRNO.ENOSYS);
      const to = fs.seek(node, offset, whence);
      if (to === null) return reply.error(unique, ERRNO.ENXIO);
      writeU64Out(reply.body(8), OUT_HEADER_SIZE, to);
      return reply.send(unique, 8);
    }
    case OP.STATFS: {
      writeStatfsOut(reply.body(STATFS_OUT_SIZE), OUT_HEADER_SIZE, fs.statfs());
      return reply.send(unique, STATFS_OUT_SIZE);
    }
    case OP.FORGET:
    case OP.BATCH_FORGET:
    case OP.INTERRUPT:
      // Node ids name what they are, so there is nothing to free; requests are answered at once.
      return;
    case OP.DESTROY:
      reply.send(unique, 0);
      return 'destroy';
    case OP.OPEN:
    case OP.OPENDIR:
    case OP.FLUSH:
    case OP.GETXATTR:
    case OP.LISTXATTR:
    case OP.ACCESS:
      // ENOSYS tells the kernel not to ask again: opens become free (no_open, no_opendir,
      // which also keep the page cache and cache directory listings), and
      // default_permissions already checks access.
      return reply.error(unique, ERRNO.ENOSYS);
    case OP.RELEASE:
    case OP.RELEASEDIR:
      return reply.send(unique, 0);
    default:
      return reply.error(unique, ERRNO.ENOSYS);
  }
}

const DOTS = [['.', 1], ['..', 2]] as const;

/**
 * Fills a READDIR(PLUS) reply with whole entries from offset on: its length, and the
 * offset the listing ends at when all of it is in (null when more is to come).
 */
function fillDir(o: Buffer, entries: Iterable<DirEntry>, offset: number, size: number, plus: boolean): { used: number; end: number | null } {
  let used = 0;
  let end = offset;
  const at = OUT_HEADER_SIZE;
  // "." and ".." come first at offsets 0 and 1; the file system's entries start at 2.
  for (const [name, next] of DOTS) {
    if (offset >= next) continue;
    if (used + direntSize(name.length, plus) > size) return { used, end: null };
    used += writeDirent(o, at + used, name, 1, 4, next, plus ? NO_ENTRY : null);
    end = next;
  }
  for (const d of entries) {
    if (used + direntSize(Buffer.byteLength(d.name), plus) > size) return { used, end: null };
    used += writeDirent(o, at + used, d.name, d.entry.attr.ino, direntType(d.entry.attr.mode), d.next, plus ? d.entry : null);
    end = d.next;
  }
  return { used, end };
}

/** Writes replies; the body goes after the header in one buffer, or beside it (READ data). */
class Replier {
  private readonly header = Buffer.allocUnsafe(OUT_HEADER_SIZE);

  constructor(private readonly fd: number, private readonly out: Buffer, private readonly stats: RequestStats | null) {}

  body(size: number): Buffer {
    this.out.fill(0, OUT_HEADER_SIZE, OUT_HEADER_SIZE + size);
    return this.out;
  }

  send(unique: bigint, bodySize: number): void {
    writeOutHeader(this.out, OUT_HEADER_SIZE + bodySize, 0, unique);
    this.write(() => writeSync(this.fd, this.out, 0, OUT_HEADER_SIZE + bodySize));
  }

  data(unique: bigint, data: Buffer): void {
    writeOutHeader(this.header, OUT_HEADER_SIZE + data.length, 0, unique);
    this.write(() => writevSync(this.fd, [this.header, data]));
  }

  error(unique: bigint, errno: number): void {
    writeOutHeader(this.header, OUT_HEADER_SIZE, -errno, unique);
    this.write(() => writeSync(this.fd, this.header, 0, OUT_HEADER_SIZE));
  }

  private write(w: () => number): void {
    const t0 = this.stats ? performance.now() : 0;
    try {
      w();
      this.stats?.wrote(performance.now() - t0);
    } catch (e) {
      // ENOENT: the request was interrupted and the kernel no longer waits for it
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
