/**
 * The writer API: what every source (the live /proc reader, the image importers, the
 * CRIU importer) hands to the store. A source adds objects one at a time; each add
 * returns the object's id, which later objects use to refer to it.
 */

/** A row id inside one checkpoint. */
export type ObjectId = number;

/**
 * 64-bit kernel values (positions, inode numbers, start times). A JS number is exact
 * only up to 2^53; pass a bigint above that.
 */
export type Int64 = number | bigint;

/** A memory address: a bigint, a safe number, or hex text with or without `0x`. */
export type Address = bigint | number | string;

export type CheckpointSource = 'proc' | 'import' | 'criu';

export interface CheckpointMeta {
  label?: string | null;
  source: CheckpointSource;
  /** Where it was taken; default: this machine. null: unknown (an import that does not say). */
  host?: string | null;
  kernel?: string | null;
  rootPid?: number | null;
  frozen?: boolean;
  /** When the capture began; default: now. */
  startedAt?: Date;
  /** Source-specific facts (a CRIU inventory, capture warnings), stored as JSON. */
  meta?: Record<string, unknown>;
}

/** Kinds of shared object. `file` objects are made by addFile, never by addSharedObject. */
export type SharedObjectKind =
  | 'file'
  | 'inode'
  | 'pipe'
  | 'socket'
  | 'anon'
  | 'mm'
  | 'fdtable'
  | 'fs'
  | 'sighand'
  | 'ns';

/** The objects a task refers to: address space, fd table, fs info, signal handlers. */
export type TaskObjectKind = 'mm' | 'fdtable' | 'fs' | 'sighand';
/** The objects a file can stand on. */
export type FileObjectKind = 'inode' | 'pipe' | 'socket' | 'anon';

export interface SharedObjectInput {
  kind: Exclude<SharedObjectKind, 'file'>;
  /** Identity on the source system, unique per kind in the checkpoint: 'pipe:[4711]'. */
  key: string;
  /** True when sharing was inferred from evidence rather than decided by kcmp. */
  inferred?: boolean;
  attrs?: Record<string, unknown>;
}

export type FileType =
  | 'reg'
  | 'dir'
  | 'chr'
  | 'blk'
  | 'fifo'
  | 'pipe'
  | 'socket'
  | 'lnk'
  | 'eventfd'
  | 'epoll'
  | 'timerfd'
  | 'signalfd'
  | 'inotify'
  | 'fanotify'
  | 'memfd'
  | 'anon'
  | 'unknown';

export const FILE_TYPES: readonly FileType[] = [
  'reg', 'dir', 'chr', 'blk', 'fifo', 'pipe', 'socket', 'lnk', 'eventfd', 'epoll', 'timerfd',
  'signalfd', 'inotify', 'fanotify', 'memfd', 'anon', 'unknown',
];

/** An open file description (struct file). Several fds may refer to one. */
export interface FileInput {
  /** Identity of the open file on the source, unique in the checkpoint. */
  key: string;
  type: FileType;
  path?: string | null;
  pos?: Int64 | null;
  /** Status flags (O_*), without O_CLOEXEC. */
  flags?: number | null;
  /** st_mode of the target: type and permission bits. */
  mode?: number | null;
  mntId?: number | null;
  /** 'major:minor' of the device holding the inode. */
  dev?: string | null;
  inode?: Int64 | null;
  deleted?: boolean;
  /** The inode, pipe, socket or anon object behind the file. */
  object?: ObjectId | null;
  /** True when its sharing between fds was inferred rather than decided by kcmp. */
  inferred?: boolean;
  /** Why part of it could not be read (permission, vanished). */
  unreadable?: string | null;
  attrs?: Record<string, unknown>;
}

export type NamespaceType =
  | 'cgroup'
  | 'ipc'
  | 'mnt'
  | 'net'
  | 'pid'
  | 'pid_for_children'
  | 'time'
  | 'time_for_children'
  | 'user'
  | 'uts';

export interface RlimitInput {
  /** Lower-case name without RLIMIT_: 'nofile', 'stack', ... */
  resource: string;
  /** null: unlimited. */
  soft: Int64 | null;
  hard: Int64 | null;
}

/** One thread. A process is the tasks with one tgid. */
export interface TaskInput {
  pid: number;
  tgid: number;
  ppid?: number | null;
  pgid?: number | null;
  sid?: number | null;
  state?: string | null;
  comm?: string | null;
  uid?: number | null;
  euid?: number | null;
  suid?: number | null;
  fsuid?: number | null;
  gid?: number | null;
  egid?: number | null;
  sgid?: number | null;
  fsgid?: number | null;
  cmdline?: string[] | null;
  exe?: string | null;
  cwd?: string | null;
  root?: string | null;
  /** Clock ticks after boot at which the task started. */
  startTime?: Int64 | null;
  /** Signal masks as hex (16 digits, as /proc/PID/status shows them). */
  sigPending?: string | null;
  sigBlocked?: string | null;
  sigIgnored?: string | null;
  sigCaught?: string | null;
  /** 'NAME=value' strings; only when the user asked for environments. */
  env?: string[] | null;
  mm?: ObjectId | null;
  fdtable?: ObjectId | null;
  fs?: ObjectId | null;
  sighand?: ObjectId | null;
  /** Namespace objects (kind 'ns') by type. */
  namespaces?: Partial<Record<NamespaceType, ObjectId>>;
  rlimits?: RlimitInput[];
  /** Parts that could not be read, with the reason: { environ: 'EACCES' }. */
  unreadable?: Record<string, string>;
  attrs?: Record<string, unknown>;
}

export interface FdInput {
  /** The fd table (kind 'fdtable') the slot belongs to. */
  fdtable: ObjectId;
  fd: number;
  cloexec: boolean;
  file: ObjectId;
}

export interface MapInput {
  /** The address space (kind 'mm'). */
  mm: ObjectId;
  start: Address;
  end: Address;
  /** 'r-xp', 'rw-s', ... */
  perms: string;
  pgoff?: Int64 | null;
  dev?: string | null;
  inode?: Int64 | null;
  path?: string | null;
  attrs?: Record<string, unknown>;
}

export interface SocketInput {
  /** The socket object (kind 'socket') these details describe. */
  object: ObjectId;
  family?: string | null;
  type?: string | null;
  protocol?: string | null;
  state?: string | null;
  localAddr?: string | null;
  localPort?: number | null;
  remoteAddr?: string | null;
  remotePort?: number | null;
  peerIno?: Int64 | null;
  attrs?: Record<string, unknown>;
}

/**
 * The details of an anonymous file (migrations/0005_file_details.sql): what /proc/PID/
 * fdinfo shows of it, or CRIU's image entry keeps. Each refers to a file added before
 * and is given once per file, or per target or watch (a second call is ignored).
 */
export interface EventfdInput {
  file: ObjectId;
  counter: Int64;
}

export interface EpollTargetInput {
  /** The epoll file. */
  file: ObjectId;
  /** Position in the kernel's list of targets, from 0. */
  seq: number;
  /** The watched fd's number in the epoll holder's fd table. */
  tfd: number;
  /** EPOLL* events. */
  events: number;
  /** The data word given to epoll_ctl. */
  data: Int64;
  /** The watched file's inode, 'major:minor' device and position, as the kernel listed them. */
  inode?: Int64 | null;
  dev?: string | null;
  pos?: Int64 | null;
}

export interface InotifyWatchInput {
  file: ObjectId;
  wd: number;
  inode: Int64;
  /** 'major:minor' of the watched inode's filesystem. */
  dev?: string | null;
  /** IN_* mask. */
  mask: number;
  ignoredMask?: number;
}

export interface TimerfdInput {
  file: ObjectId;
  /** CLOCK_* id. */
  clockid: number;
  /** Expirations not yet read. */
  ticks: Int64;
  /** timerfd_settime flags (TFD_TIMER_ABSTIME, ...). */
  settimeFlags: number;
  /** it_interval, in ns; 0 for a one-shot timer. */
  intervalNs: Int64;
  /** it_value: the time left to the next expiry, in ns; 0 when disarmed. */
  valueNs: Int64;
}

export interface SignalfdInput {
  file: ObjectId;
  /** The signals it reads, as 16 hex digits. */
  sigmask: string;
}

export type TtyKind = 'pty' | 'console' | 'vt' | 'ctty' | 'serial' | 'other';

export interface TtyInput {
  file: ObjectId;
  kind: TtyKind;
  /** The pty number, or the line's minor for others. */
  index?: number | null;
  role?: 'master' | 'slave' | null;
  /** 'major:minor' of the device the file stands for. */
  rdev?: string | null;
  /** The file on the other side of a pty pair, added before. */
  peer?: ObjectId | null;
}

export interface WriterOptions {
  /**
   * Bytes the writer may hold: shared objects and refcount updates waiting to be
   * flushed to SQLite, a filter of the keys seen and the kinds of recent objects.
   * Default 4 MiB; it does not grow with the checkpoint. Other rows are never held.
   */
  memoryBudget?: number;
  /** How long to wait for another writer to finish, in ms. Default 10 minutes. */
  waitMs?: number;
}

export interface WriterCounts {
  tasks: number;
  fds: number;
  files: number;
  sharedObjects: number;
  maps: number;
  sockets: number;
  /** Rows of the anonymous-file detail tables (eventfds, epoll targets, inotify watches, timerfds, signalfds, ttys). */
  fileDetails: number;
}

export interface WriterResult {
  checkpointId: number;
  counts: WriterCounts;
  /** The most bytes the writer itself held at once (pending updates, caches). */
  peakBufferedBytes: number;
  /** The process's peak resident set while writing, as sampled at each flush. */
  peakRss: number;
}
