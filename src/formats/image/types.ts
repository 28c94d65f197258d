/**
 * ckptdb's restore image, version 1: the records a restore tool reads, in the order it
 * needs them. schema/ckptdb-image.schema.json publishes the same format as a JSON Schema.
 *
 * Order (restore order):
 *   1. one `checkpoint` record;
 *   2. the process tree from its roots, parents before children (a thread after its
 *      thread-group leader), each `task` preceded by the shared objects it is the first
 *      to refer to, and followed by the `fd`s of the fd table and the `map`s of the
 *      address space it is the first to refer to; an fd is preceded by its open `file`
 *      and the object behind that file, when it is the first to refer to them;
 *   3. whatever nothing in the tree refers to (an fd table no task uses, a file no fd
 *      holds), by the same rule;
 *   4. the details of anonymous files (`eventfd`, `epollTarget`, `inotifyWatch`,
 *      `timerfd`, `signalfd`, `tty`), kind by kind, by file; they name files defined before them and
 *      are no references a refcount counts (a tty's peer may be either side of a pair);
 *   5. for a checkpoint imported from CRIU, the files CRIU wrote (`criuImage`), each
 *      preceded by the `criuChunk`s of its bytes that no earlier file holds.
 *
 * Ids: every shared object (`object` and `file` records) has an image id, 1, 2, 3, ...
 * in the order the objects are defined; they are the image's own, not row ids of any
 * store. A reference is the image id of an object defined before it. Tasks are named
 * by pid, fds by (fd table, fd), maps by (address space, start).
 *
 * CRIU's files: the image carries every file of the CRIU image directory (and of a
 * container checkpoint archive) as ckptdb keeps it, so that export --format criu of
 * the imported checkpoint gives back the same images; memory pages, registers and
 * whatever else ckptdb does not model travel this way. A file's bytes are cut into
 * chunks of 4 KiB from its start (a page each, for pages files); a chunk is written
 * once per image, however many files or pages hold the same bytes (zero pages, a
 * library mapped by every process), as base64. Chunks have their own numbering 1, 2,
 * 3 ..., and every chunk written is used by a file after it.
 *
 * 64-bit values (positions, inode numbers, start times, page offsets, resource limits)
 * are decimal strings, since a JSON number above 2^53 loses digits in most readers;
 * addresses are 16-digit lower-case hex strings. Every field is always present; a
 * value the store does not have is null.
 */
import type { CheckpointSource, FileType, NamespaceType, SharedObjectKind, TtyKind } from '../../store/writer/types.js';

export const IMAGE_FORMAT = 'ckptdb-image';
export const IMAGE_VERSION = 1;

/**
 * A signed 64-bit integer as a decimal string: "0", "-1", "18446744073709551" ... The
 * store keeps 64-bit values as SQLite's signed INTEGER, so a kernel value that is
 * unsigned (an inode number, a resource limit, a page offset) of 2^63 or more appears as
 * its two's complement, negative: read it back with BigInt.asUintN(64, BigInt(text)).
 */
export type Int64Text = string;
/** A memory address as 16 lower-case hex digits, without 0x: "00007ffd5e8a1000". */
export type AddressText = string;
/** An object's id inside the image: 1 for the first object defined, then 2, 3, ... */
export type ImageId = number;
export type JsonObject = Record<string, unknown>;

/** The first thing in an image: what it is and which version of it. */
export interface ImageHeader {
  format: typeof IMAGE_FORMAT;
  version: typeof IMAGE_VERSION;
}

/** The NDJSON form's last line: how many records came before it, so truncation shows. */
export interface ImageTrailer {
  record: 'end';
  records: number;
}

export interface CheckpointRecord {
  record: 'checkpoint';
  /** The checkpoint's id in the store it was exported from; import assigns a new one. */
  id: number;
  label: string | null;
  source: CheckpointSource;
  host: string | null;
  kernel: string | null;
  rootPid: number | null;
  frozen: boolean;
  /** ISO 8601 in UTC with milliseconds, as Date.toISOString() writes it. */
  startedAt: string;
  /** When the checkpoint was committed; import records its own commit time instead. */
  finishedAt: string;
  meta: JsonObject | null;
}

/** What the kernel showed of a socket object. */
export interface SocketDetails {
  family: string | null;
  type: string | null;
  protocol: string | null;
  state: string | null;
  localAddr: string | null;
  localPort: number | null;
  remoteAddr: string | null;
  remotePort: number | null;
  peerIno: Int64Text | null;
  attrs: JsonObject | null;
}

/** A shared kernel object other than an open file: inode, pipe, socket, address space, fd table, ... */
export interface ObjectRecord {
  record: 'object';
  id: ImageId;
  kind: Exclude<SharedObjectKind, 'file'>;
  /** Identity on the source system, unique per kind: 'pipe:[4711]'. */
  key: string;
  /** How many references in this image point to it; import checks it. */
  refcount: number;
  /** True when sharing was inferred from evidence rather than decided by kcmp. */
  inferred: boolean;
  attrs: JsonObject | null;
  /** Only for kind 'socket', when the source saw its details. */
  socket: SocketDetails | null;
}

/** An open file description (struct file): a shared object that fds point to. */
export interface FileRecord {
  record: 'file';
  id: ImageId;
  key: string;
  refcount: number;
  inferred: boolean;
  type: FileType;
  path: string | null;
  pos: Int64Text | null;
  /** O_* status flags, without O_CLOEXEC (that belongs to the fd). */
  flags: number | null;
  /** st_mode of the target. */
  mode: number | null;
  mntId: number | null;
  dev: string | null;
  inode: Int64Text | null;
  deleted: boolean;
  /** The inode, pipe, socket or anon object behind the file. */
  object: ImageId | null;
  unreadable: string | null;
  attrs: JsonObject | null;
}

export interface RlimitRecord {
  resource: string;
  /** null: unlimited. */
  soft: Int64Text | null;
  hard: Int64Text | null;
}

/** One thread; a process is the tasks with one tgid. */
export interface TaskRecord {
  record: 'task';
  pid: number;
  tgid: number;
  ppid: number | null;
  pgid: number | null;
  sid: number | null;
  state: string | null;
  comm: string | null;
  uid: number | null;
  euid: number | null;
  suid: number | null;
  fsuid: number | null;
  gid: number | null;
  egid: number | null;
  sgid: number | null;
  fsgid: number | null;
  cmdline: string[] | null;
  exe: string | null;
  cwd: string | null;
  root: string | null;
  startTime: Int64Text | null;
  sigPending: string | null;
  sigBlocked: string | null;
  sigIgnored: string | null;
  sigCaught: string | null;
  /** Only when the checkpoint was taken with environments. */
  env: string[] | null;
  mm: ImageId | null;
  fdtable: ImageId | null;
  fs: ImageId | null;
  sighand: ImageId | null;
  /** Namespace objects (kind 'ns') by type, types in alphabetical order. */
  namespaces: Partial<Record<NamespaceType, ImageId>>;
  /** By resource name, in alphabetical order. */
  rlimits: RlimitRecord[];
  unreadable: Record<string, string> | null;
  attrs: JsonObject | null;
}

/** A slot of an fd table. */
export interface FdRecord {
  record: 'fd';
  fdtable: ImageId;
  fd: number;
  cloexec: boolean;
  file: ImageId;
}

/** A mapping of an address space. */
export interface MapRecord {
  record: 'map';
  mm: ImageId;
  start: AddressText;
  end: AddressText;
  perms: string;
  pgoff: Int64Text | null;
  dev: string | null;
  inode: Int64Text | null;
  path: string | null;
  attrs: JsonObject | null;
}

/** An eventfd's counter (migrations/0005_file_details.sql, as the other detail records). */
export interface EventfdRecord {
  record: 'eventfd';
  file: ImageId;
  counter: Int64Text;
}

/** One fd an epoll watches, in the kernel's order (seq from 0). */
export interface EpollTargetRecord {
  record: 'epollTarget';
  file: ImageId;
  seq: number;
  /** The fd's number in the fd table of the epoll's holder. */
  tfd: number;
  events: number;
  data: Int64Text;
  inode: Int64Text | null;
  dev: string | null;
  pos: Int64Text | null;
}

/** One watch of an inotify file. */
export interface InotifyWatchRecord {
  record: 'inotifyWatch';
  file: ImageId;
  wd: number;
  inode: Int64Text;
  dev: string | null;
  mask: number;
  ignoredMask: number;
}

export interface TimerfdRecord {
  record: 'timerfd';
  file: ImageId;
  clockid: number;
  ticks: Int64Text;
  settimeFlags: number;
  intervalNs: Int64Text;
  /** The time left to the next expiry when the checkpoint was taken; 0 when disarmed. */
  valueNs: Int64Text;
}

export interface SignalfdRecord {
  record: 'signalfd';
  file: ImageId;
  sigmask: string;
}

export interface TtyRecord {
  record: 'tty';
  file: ImageId;
  kind: TtyKind;
  index: number | null;
  role: 'master' | 'slave' | null;
  rdev: string | null;
  /** The open file on the other side of a pty pair. */
  peer: ImageId | null;
}

export type FileDetailRecord = EventfdRecord | EpollTargetRecord | InotifyWatchRecord | TimerfdRecord | SignalfdRecord | TtyRecord;

/** Up to 4 KiB of a CRIU file's bytes, defined before the first file that holds them. */
export interface CriuChunkRecord {
  record: 'criuChunk';
  /** 1 for the first chunk, then 2, 3, ...: a numbering of its own, apart from the objects'. */
  id: number;
  /** The bytes, base64: 1 to 4096 of them. */
  data: string;
}

/** What a kept file is to ckptdb (the role column of criu_images). */
export type CriuFileRole = 'modelled' | 'stored' | 'raw' | 'other' | 'container';

/** One file of a CRIU image directory, or of a container checkpoint archive beside it. */
export interface CriuImageRecord {
  record: 'criuImage';
  /** The file name in the image directory; for a container file, its path in the archive. */
  name: string;
  /** CRIU's image kind (CORE, FDINFO, ...); null for a file without CRIU's magic. */
  kind: string | null;
  /** modelled: its content is also in the tables, and export --format criu rebuilds it from them. */
  role: CriuFileRole;
  /** The image's leading magic (IMG_COMMON or IMG_SERVICE), null when it has none. */
  headMagic: number | null;
  size: number;
  /** Protobuf entries, for images made of them. */
  entries: number | null;
  /** The file's bytes: chunks defined before this record, in order; 4 KiB each but the last. */
  chunks: number[];
}

export type ImageRecord = CheckpointRecord | ObjectRecord | FileRecord | TaskRecord | FdRecord | MapRecord | FileDetailRecord | CriuChunkRecord | CriuImageRecord;
export type RecordType = ImageRecord['record'];

/** The image's two forms: one JSON document, or NDJSON (one record per line). */
export type ImageForm = 'document' | 'ndjson';

/** Figures of one export or import. */
export interface ImageCounts {
  /** Every record: checkpoint, objects, files, tasks, fds, maps. */
  records: number;
  objects: number;
  files: number;
  tasks: number;
  fds: number;
  maps: number;
}
