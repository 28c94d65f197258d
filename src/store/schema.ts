/**
 * The store's tables as kysely sees them: one interface per table of
 * migrations/, column for column. `Generated` marks what SQLite fills in.
 */
import type { ColumnType, Generated } from 'kysely';

/** SQLite INTEGER that may exceed 2^53 (positions, inodes): a bigint when read with safe integers. */
export type Int64Column = ColumnType<number | bigint, number | bigint, number | bigint>;

export interface CheckpointsTable {
  id: Generated<number>;
  label: string | null;
  source: string;
  host: string | null;
  kernel: string | null;
  root_pid: number | null;
  frozen: number;
  started_at: string;
  finished_at: string;
  meta: string | null;
}

export interface SharedObjectsTable {
  id: Generated<number>;
  checkpoint_id: number;
  kind: string;
  key: string;
  refcount: number;
  inferred: number;
  attrs: string | null;
}

export interface FilesTable {
  id: number;
  checkpoint_id: number;
  type: string;
  path: string | null;
  pos: Int64Column | null;
  flags: number | null;
  mode: number | null;
  mnt_id: number | null;
  dev: string | null;
  inode: Int64Column | null;
  deleted: number;
  object_id: number | null;
  unreadable: string | null;
  attrs: string | null;
}

export interface TasksTable {
  id: Generated<number>;
  checkpoint_id: number;
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
  cmdline: string | null;
  exe: string | null;
  cwd: string | null;
  root: string | null;
  start_time: Int64Column | null;
  sig_pending: string | null;
  sig_blocked: string | null;
  sig_ignored: string | null;
  sig_caught: string | null;
  env: string | null;
  mm_id: number | null;
  fdtable_id: number | null;
  fs_id: number | null;
  sighand_id: number | null;
  unreadable: string | null;
  attrs: string | null;
}

export interface FdsTable {
  id: Generated<number>;
  checkpoint_id: number;
  fdtable_id: number;
  fd: number;
  cloexec: number;
  file_id: number;
}

export interface MapsTable {
  id: Generated<number>;
  checkpoint_id: number;
  mm_id: number;
  start_addr: string;
  end_addr: string;
  perms: string;
  pgoff: Int64Column | null;
  dev: string | null;
  inode: Int64Column | null;
  path: string | null;
  attrs: string | null;
}

export interface SocketsTable {
  object_id: number;
  checkpoint_id: number;
  family: string | null;
  sock_type: string | null;
  protocol: string | null;
  state: string | null;
  local_addr: string | null;
  local_port: number | null;
  remote_addr: string | null;
  remote_port: number | null;
  peer_ino: Int64Column | null;
  attrs: string | null;
}

export interface TaskNamespacesTable {
  checkpoint_id: number;
  task_id: number;
  type: string;
  ns_id: number;
}

export interface TaskRlimitsTable {
  checkpoint_id: number;
  task_id: number;
  resource: string;
  soft: Int64Column | null;
  hard: Int64Column | null;
}

export interface ObjectRefsView {
  checkpoint_id: number;
  object_id: number;
  ref_kind: 'fd' | 'file' | 'task';
  ref_id: number;
}

/** View processes (migrations/0002_views.sql): one row per process, from its main thread. */
export interface ProcessesView {
  checkpoint_id: number;
  pid: number;
  ppid: number | null;
  pgid: number | null;
  sid: number | null;
  state: string | null;
  comm: string | null;
  threads: number;
  /** The arguments joined by spaces. */
  command: string | null;
  /** The arguments as a JSON array. */
  cmdline: string | null;
  exe: string | null;
  cwd: string | null;
  uid: number | null;
  gid: number | null;
  start_time: Int64Column | null;
  mm_id: number | null;
  fdtable_id: number | null;
  task_id: number;
}

/** View task_info: every task with its process and that process's parent. */
export interface TaskInfoView {
  checkpoint_id: number;
  tid: number;
  pid: number;
  is_thread: number;
  comm: string | null;
  state: string | null;
  process_comm: string | null;
  process_cmdline: string | null;
  ppid: number | null;
  parent_comm: string | null;
  parent_cmdline: string | null;
  mm_id: number | null;
  fdtable_id: number | null;
  fs_id: number | null;
  sighand_id: number | null;
  task_id: number;
}

/** View fdtable_holders: one row per (process, fd table it holds). */
export interface FdtableHoldersView {
  checkpoint_id: number;
  pid: number;
  fdtable_id: number;
  tid: number;
}

/** View fd_holders: every fd with the process (and thread) holding it. */
export interface FdHoldersView {
  checkpoint_id: number;
  file_id: number;
  pid: number;
  tid: number;
  fd: number;
  cloexec: number;
  fdtable_id: number;
  fd_id: number;
}

/** View open_fds: every fd of every process with its open file and the object behind it. */
export interface OpenFdsView {
  checkpoint_id: number;
  pid: number;
  tid: number;
  comm: string | null;
  fd: number;
  cloexec: number;
  type: string;
  path: string | null;
  pos: Int64Column | null;
  flags: number | null;
  mode: number | null;
  deleted: number;
  dev: string | null;
  inode: Int64Column | null;
  mnt_id: number | null;
  file_id: number;
  /** How many fds in the checkpoint point at this open file. */
  shared: number;
  object_id: number | null;
  object_kind: string | null;
  object_key: string | null;
  fdtable_id: number;
  fd_id: number;
}

/** View object_holders: one row per reference to a shared object, named by process. */
export interface ObjectHoldersView {
  checkpoint_id: number;
  object_id: number;
  kind: string;
  pid: number;
  tid: number;
  /** null for references made by a task (address space, fd table, fs, sighand, namespace). */
  fd: number | null;
}

/** The details of anonymous files (migrations/0005_file_details.sql), one table per kind. */
export interface FileEventfdsTable {
  checkpoint_id: number;
  file_id: number;
  counter: Int64Column;
}

export interface EpollTargetsTable {
  checkpoint_id: number;
  file_id: number;
  seq: number;
  tfd: number;
  events: number;
  data: Int64Column;
  inode: Int64Column | null;
  dev: string | null;
  pos: Int64Column | null;
}

export interface InotifyWatchesTable {
  checkpoint_id: number;
  file_id: number;
  wd: number;
  inode: Int64Column;
  dev: string | null;
  mask: number;
  ignored_mask: number;
}

export interface FileTimerfdsTable {
  checkpoint_id: number;
  file_id: number;
  clockid: number;
  ticks: Int64Column;
  settime_flags: number;
  interval_ns: Int64Column;
  value_ns: Int64Column;
}

export interface FileSignalfdsTable {
  checkpoint_id: number;
  file_id: number;
  sigmask: string;
}

export interface FileTtysTable {
  checkpoint_id: number;
  file_id: number;
  kind: string;
  tty_index: number | null;
  role: 'master' | 'slave' | null;
  rdev: string | null;
  peer_file_id: number | null;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

export interface StoreSchema {
  checkpoints: CheckpointsTable;
  shared_objects: SharedObjectsTable;
  files: FilesTable;
  tasks: TasksTable;
  fds: FdsTable;
  maps: MapsTable;
  sockets: SocketsTable;
  task_namespaces: TaskNamespacesTable;
  task_rlimits: TaskRlimitsTable;
  file_eventfds: FileEventfdsTable;
  epoll_targets: EpollTargetsTable;
  inotify_watches: InotifyWatchesTable;
  file_timerfds: FileTimerfdsTable;
  file_signalfds: FileSignalfdsTable;
  file_ttys: FileTtysTable;
  object_refs: ObjectRefsView;
  processes: ProcessesView;
  task_info: TaskInfoView;
  fdtable_holders: FdtableHoldersView;
  fd_holders: FdHoldersView;
  open_fds: OpenFdsView;
  object_holders: ObjectHoldersView;
  schema_migrations: SchemaMigrationsTable;
}
