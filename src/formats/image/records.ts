/**
 * Records of the restore image (types.ts) from rows of the store, as the exporter reads
 * them (sql/internal/image.sql) and as `ckptdb mount` does (sql/internal/mount.sql): the
 * same columns, so both give the same records.
 */
import type { CheckpointSource, FileType, NamespaceType } from '../../store/writer/types.js';
import type { CheckpointRecord, FileRecord, JsonObject, MapRecord, ObjectRecord, RlimitRecord, TaskRecord } from './types.js';

export type Row = Record<string, unknown>;

/** A checkpoint from its row of checkpoints. */
export function checkpointRecord(r: Row): CheckpointRecord {
  return {
    record: 'checkpoint',
    id: r.id as number,
    label: r.label as string | null,
    source: r.source as CheckpointSource,
    host: r.host as string | null,
    kernel: r.kernel as string | null,
    rootPid: r.root_pid as number | null,
    frozen: r.frozen === 1,
    startedAt: r.started_at as string,
    finishedAt: r.finished_at as string,
    meta: json(r.meta),
  };
}

/**
 * A task from the columns of image.sql's `task` (named and ordered as the record; what
 * is JSON in the store is parsed), its namespaces by type and its resource limits.
 */
export function taskRecord(t: Row, namespaces: [NamespaceType, number][], rlimits: RlimitRecord[]): TaskRecord {
  return {
    record: 'task',
    ...t,
    cmdline: json(t.cmdline),
    env: json(t.env),
    namespaces: Object.fromEntries(namespaces),
    rlimits,
    unreadable: json(t.unreadable),
    attrs: json(t.attrs),
  } as TaskRecord;
}

/** A mapping of address space mm (its image id), from a row of image.sql's `mm_maps`. */
export function mapRecord(m: Row, mm: number): MapRecord {
  return {
    record: 'map',
    mm,
    start: m.start_addr as string,
    end: m.end_addr as string,
    perms: m.perms as string,
    pgoff: m.pgoff as string | null,
    dev: m.dev as string | null,
    inode: m.inode as string | null,
    path: m.path as string | null,
    attrs: json(m.attrs),
  };
}

export type Get = (column: string) => unknown;

/** A shared object in full, from a row of image_object_rows (o_*, s_*). */
export function objectRecord(get: Get): ObjectRecord {
  return {
    record: 'object',
    id: get('o_image') as number,
    kind: get('o_kind') as ObjectRecord['kind'],
    key: get('o_key') as string,
    refcount: get('o_refcount') as number,
    inferred: get('o_inferred') === 1,
    attrs: json(get('o_attrs')),
    socket: get('s_object') == null ? null : {
      family: get('s_family') as string | null,
      type: get('s_type') as string | null,
      protocol: get('s_protocol') as string | null,
      state: get('s_state') as string | null,
      localAddr: get('s_local_addr') as string | null,
      localPort: get('s_local_port') as number | null,
      remoteAddr: get('s_remote_addr') as string | null,
      remotePort: get('s_remote_port') as number | null,
      peerIno: get('s_peer_ino') as string | null,
      attrs: json(get('s_attrs')),
    },
  };
}

/** An open file in full, from a row of image_file_rows (f_*). */
export function fileRecord(get: Get): FileRecord {
  return {
    record: 'file',
    id: get('f_image') as number,
    key: get('f_key') as string,
    refcount: get('f_refcount') as number,
    inferred: get('f_inferred') === 1,
    type: get('f_type') as FileType,
    path: get('f_path') as string | null,
    pos: get('f_pos') as string | null,
    flags: get('f_flags') as number | null,
    mode: get('f_mode') as number | null,
    mntId: get('f_mnt_id') as number | null,
    dev: get('f_dev') as string | null,
    inode: get('f_inode') as string | null,
    deleted: get('f_deleted') === 1,
    object: get('f_object') as number | null,
    unreadable: get('f_unreadable') as string | null,
    attrs: json(get('f_attrs')),
  };
}

export function getter(row: unknown): Get {
  return (column) => (row as Row)[column];
}

/** A JSON column: the writer stored it with JSON.stringify, and bigints as strings. */
function json<T = JsonObject>(value: unknown): T | null {
  return value == null ? null : (JSON.parse(value as string) as T);
}
