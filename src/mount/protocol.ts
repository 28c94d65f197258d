/**
 * The FUSE kernel protocol (linux/fuse.h), as much of it as a read-only file system
 * speaks: request headers in, replies out, little-endian structs at fixed offsets.
 * Node ids are kept below 2^53 by the file system, so they travel as plain numbers.
 */

export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  READLINK: 5,
  OPEN: 14,
  READ: 15,
  STATFS: 17,
  RELEASE: 18,
  GETXATTR: 22,
  LISTXATTR: 23,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  ACCESS: 34,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  READDIRPLUS: 44,
  LSEEK: 46,
} as const;

export const KERNEL_MAJOR = 7;
/** The protocol minor this server speaks; the kernel uses the lower of its own and this. */
export const KERNEL_MINOR = 31;

export const INIT_FLAGS = {
  ASYNC_READ: 1 << 0,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  NO_OPENDIR_SUPPORT: 1 << 24,
} as const;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
const DIRENT_HEADER = 24;
export const INIT_OUT_SIZE = 64;
export const STATFS_OUT_SIZE = 80;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
/** d_type of a directory entry, from the mode's file type. */
export const direntType = (mode: number): number => (mode >>> 12) & 0o17;

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** What stat(2) shows of a node. Times are seconds and nanoseconds since the epoch. */
export interface Attr {
  ino: number;
  size: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** 512-byte blocks the node holds; less than its size for a sparse file. */
  blocks: number;
  mtimeSec: number;
  mtimeNsec: number;
}

/** A name bound to a node, as LOOKUP and READDIRPLUS return it. */
export interface Entry {
  /** 0 with an entry timeout: the name does not exist, and the kernel may remember that. */
  nodeid: number;
  /** Tells a node id apart from an earlier use of the same id. */
  generation: number;
  /** How long, in seconds, the kernel may keep the name and the attributes. */
  entryTimeout: number;
  attrTimeout: number;
  attr: Attr;
}

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
}

export function readInHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: readU64(b, 16),
  };
}

/** A 64-bit field as a number: exact below 2^53, which every node id and offset here is. */
export function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
}

function writeU64(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v % 0x1_0000_0000 >>> 0, at);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, at + 4);
}

export function writeOutHeader(b: Buffer, len: number, error: number, unique: bigint): void {
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
}

function writeAttr(b: Buffer, at: number, a: Attr): void {
  writeU64(b, at, a.ino);
  writeU64(b, at + 8, a.size);
  writeU64(b, at + 16, a.blocks);
  // atime, mtime and ctime are one: what the store holds never changes after it is written
  for (const t of [24, 32, 40]) writeU64(b, at + t, a.mtimeSec);
  for (const t of [48, 52, 56]) b.writeUInt32LE(a.mtimeNsec, at + t);
  b.writeUInt32LE(a.mode, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid, at + 68);
  b.writeUInt32LE(a.gid, at + 72);
  b.writeUInt32LE(0, at + 76);
  b.writeUInt32LE(4096, at + 80);
  b.writeUInt32LE(0, at + 84);
}

function writeTimeout(b: Buffer, at: number, nsecAt: number, seconds: number): void {
  writeU64(b, at, Math.floor(seconds));
  b.writeUInt32LE(Math.round((seconds % 1) * 1e9), nsecAt);
}

export function writeEntryOut(b: Buffer, at: number, e: Entry): void {
  writeU64(b, at, e.nodeid);
  writeU64(b, at + 8, e.generation);
  writeTimeout(b, at + 16, at + 32, e.entryTimeout);
  writeTimeout(b, at + 24, at + 36, e.attrTimeout);
  writeAttr(b, at + 40, e.attr);
}

export function writeAttrOut(b: Buffer, at: number, attr: Attr, timeout: number): void {
  writeTimeout(b, at, at + 8, timeout);
  b.writeUInt32LE(0, at + 12);
  writeAttr(b, at + 16, attr);
}

/** Bytes a directory entry takes, padded to 8. */
export function direntSize(nameBytes: number, plus: boolean): number {
  return (((plus ? ENTRY_OUT_SIZE : 0) + DIRENT_HEADER + nameBytes + 7) & ~7) >>> 0;
}

/**
 * Writes one entry of a READDIR (or, with entry, READDIRPLUS) reply at `at`; `next` is
 * the offset the kernel passes back to continue after it.
 */
export function writeDirent(b: Buffer, at: number, name: string, ino: number, type: number, next: number, entry: Entry | null): number {
  const start = at;
  if (entry) {
    writeEntryOut(b, at, entry);
    at += ENTRY_OUT_SIZE;
  }
  const nameBytes = b.write(name, at + DIRENT_HEADER, 'utf8');
  const size = direntSize(nameBytes, entry !== null);
  writeU64(b, at, ino);
  writeU64(b, at + 8, next);
  b.writeUInt32LE(nameBytes, at + 16);
  b.writeUInt32LE(type, at + 20);
  b.fill(0, at + DIRENT_HEADER + nameBytes, start + size);
  return size;
}

/** An entry READDIRPLUS sends for "." and "..": the kernel looks nothing up for them. */
export const NO_ENTRY: Entry = {
  nodeid: 0, generation: 0, entryTimeout: 0, attrTimeout: 0,
  attr: { ino: 0, size: 0, mode: 0, nlink: 0, uid: 0, gid: 0, blocks: 0, mtimeSec: 0, mtimeNsec: 0 },
};

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function readInitIn(b: Buffer, at: number): InitIn {
  return { major: b.readUInt32LE(at), minor: b.readUInt32LE(at + 4), maxReadahead: b.readUInt32LE(at + 8), flags: b.readUInt32LE(at + 12) };
}

export function writeInitOut(b: Buffer, at: number, o: { minor: number; maxReadahead: number; flags: number; maxPages: number }): void {
  b.fill(0, at, at + INIT_OUT_SIZE);
  b.writeUInt32LE(KERNEL_MAJOR, at);
  b.writeUInt32LE(o.minor, at + 4);
  b.writeUInt32LE(o.maxReadahead, at + 8);
  b.writeUInt32LE(o.flags >>> 0, at + 12);
  b.writeUInt16LE(16, at + 16); // max_background
  b.writeUInt16LE(12, at + 18); // congestion_threshold
  b.writeUInt32LE(4096, at + 20); // max_write: nothing is written
  b.writeUInt32LE(1, at + 24); // time_gran: nanoseconds
  b.writeUInt16LE(o.maxPages, at + 28);
}

export function writeStatfsOut(b: Buffer, at: number, s: { blocks: number; files: number }): void {
  b.fill(0, at, at + STATFS_OUT_SIZE);
  writeU64(b, at, s.blocks);
  writeU64(b, at + 24, s.files);
  b.writeUInt32LE(4096, at + 40); // bsize
  b.writeUInt32LE(255, at + 44); // namelen
  b.writeUInt32LE(4096, at + 48); // frsize
}

/** READ and READDIR: the offset and the most bytes the kernel takes. */
export function readReadIn(b: Buffer, at: number): { offset: number; size: number } {
  return { offset: readU64(b, at + 8), size: b.readUInt32LE(at + 16) };
}

export function readLseekIn(b: Buffer, at: number): { offset: number; whence: number } {
  return { offset: readU64(b, at + 8), whence: b.readUInt32LE(at + 16) };
}

export function writeU64Out(b: Buffer, at: number, v: number): void {
  writeU64(b, at, v);
}

/** A name in a request: NUL-terminated bytes after the header. */
export function readName(b: Buffer, at: number, end: number): string {
  const nul = b.indexOf(0, at);
  return b.toString('utf8', at, nul < 0 || nul > end ? end : nul);
}
