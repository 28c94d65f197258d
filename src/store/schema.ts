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
  object_refs: ObjectRefsView;
  schema_migrations: SchemaMigrationsTable;
}
