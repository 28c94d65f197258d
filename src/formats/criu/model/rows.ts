/**
 * The store's rows of one checkpoint as export needs them, keyed the way CRIU's images
 * are: tasks by pid, files by CRIU file id, fds by fd table, maps by address space.
 */
import type Database from 'better-sqlite3';
import { statement } from '../../../store/sqlFile.js';
import type { ColumnValue } from './binding.js';
import type { DetailKind } from './fileDetails.js';

export type Row = Record<string, ColumnValue>;

export interface TaskRow extends Row {
  pid: bigint;
  tgid: bigint;
  attrs: string | null;
  mm_key: string | null;
  fdtable_key: string | null;
  fs_key: string | null;
  sighand_key: string | null;
}

export interface FdRow extends Row {
  fdtable_key: string;
  fd: bigint;
  cloexec: bigint;
  file_key: string;
}

export interface MapRow extends Row {
  mm_key: string;
  start_addr: string;
  end_addr: string;
  perms: string;
}

export interface CheckpointRows {
  tasks: Map<number, TaskRow>;
  /** pid -> namespace type -> key */
  namespaces: Map<number, Map<string, string>>;
  rlimits: Map<number, { resource: string; soft: ColumnValue; hard: ColumnValue }[]>;
  files: Map<string, Row>;
  fds: Map<string, FdRow[]>;
  maps: Map<string, MapRow[]>;
  /** Rows of the anonymous-file detail tables, by kind and file key. */
  details: Record<DetailKind, Map<string, Row[]>>;
}

const DETAIL_STATEMENTS: Record<DetailKind, string> = {
  eventfd: 'export_eventfds',
  epoll: 'export_epoll_targets',
  inotify: 'export_inotify_watches',
  timerfd: 'export_timerfds',
  signalfd: 'export_signalfds',
};

export function loadRows(db: Database.Database, checkpointId: number): CheckpointRows {
  const all = <T>(name: string) =>
    db.prepare(statement('internal/criu.sql', name)).safeIntegers(true).all({ checkpoint_id: checkpointId }) as T[];
  const rows: CheckpointRows = {
    tasks: new Map(), namespaces: new Map(), rlimits: new Map(), files: new Map(), fds: new Map(), maps: new Map(),
    details: { eventfd: new Map(), epoll: new Map(), inotify: new Map(), timerfd: new Map(), signalfd: new Map() },
  };
  for (const t of all<TaskRow>('export_tasks')) rows.tasks.set(Number(t.pid), t);
  for (const n of all<{ pid: bigint; type: string; key: string }>('export_namespaces')) {
    const m = rows.namespaces.get(Number(n.pid)) ?? new Map<string, string>();
    m.set(n.type, n.key);
    rows.namespaces.set(Number(n.pid), m);
  }
  for (const r of all<{ pid: bigint; resource: string; soft: ColumnValue; hard: ColumnValue }>('export_rlimits')) {
    push(rows.rlimits, Number(r.pid), { resource: r.resource, soft: r.soft, hard: r.hard });
  }
  for (const f of all<Row & { key: string }>('export_files')) rows.files.set(f.key, f);
  for (const d of all<FdRow>('export_fds')) push(rows.fds, d.fdtable_key, d);
  for (const m of all<MapRow>('export_maps')) push(rows.maps, m.mm_key, m);
  for (const [kind, name] of Object.entries(DETAIL_STATEMENTS) as [DetailKind, string][]) {
    for (const d of all<Row & { file_key: string }>(name)) push(rows.details[kind], d.file_key, d);
  }
  return rows;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
