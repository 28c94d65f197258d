import type pg from 'pg';

/**
 * The tables a checkpoint's rows live in, parents before children (the order a copy
 * inserts them in, so every foreign key finds its row). Each has checkpoint_id, and
 * the same columns in both dialects; CRIU's chunks are copied apart (push.ts, pull.ts):
 * SQLite names them by row id, PostgreSQL by hash.
 */
export const CHECKPOINT_TABLES = [
  'shared_objects', 'files', 'tasks', 'fds', 'maps', 'sockets', 'task_namespaces', 'task_rlimits', 'criu_images', 'criu_page_runs',
  'file_eventfds', 'epoll_targets', 'inotify_watches', 'file_timerfds', 'file_signalfds', 'file_ttys',
] as const;
export type CheckpointTable = (typeof CHECKPOINT_TABLES)[number];

/**
 * Row ids are local to a store: a checkpoint keeps them in PostgreSQL, where keys
 * include checkpoint_id, and gets new ones when pulled into a SQLite store, where they
 * are unique store-wide. These are the id spaces, and the columns that hold an id of each.
 */
export const ID_SPACES = {
  object: {
    table: 'shared_objects',
    columns: [
      'shared_objects.id', 'files.id', 'files.object_id', 'tasks.mm_id', 'tasks.fdtable_id', 'tasks.fs_id', 'tasks.sighand_id',
      'fds.fdtable_id', 'fds.file_id', 'maps.mm_id', 'sockets.object_id', 'task_namespaces.ns_id',
      'file_eventfds.file_id', 'epoll_targets.file_id', 'inotify_watches.file_id', 'file_timerfds.file_id',
      'file_signalfds.file_id', 'file_ttys.file_id', 'file_ttys.peer_file_id',
    ],
  },
  task: { table: 'tasks', columns: ['tasks.id', 'task_namespaces.task_id', 'task_rlimits.task_id'] },
  fd: { table: 'fds', columns: ['fds.id'] },
  map: { table: 'maps', columns: ['maps.id'] },
  image: { table: 'criu_images', columns: ['criu_images.id', 'criu_page_runs.image_id'] },
} as const;
export type IdSpace = keyof typeof ID_SPACES;

/** The id space of a table's column, if it holds a row id. */
export function idSpaceOf(table: string, column: string): IdSpace | undefined {
  const name = `${table}.${column}`;
  return (Object.keys(ID_SPACES) as IdSpace[]).find((s) => (ID_SPACES[s].columns as readonly string[]).includes(name));
}

/** CRIU's memory pages: kept on their host unless pushed with --with-pages. */
export const PAGES_IMAGE = /(^|\/)pages-(shmem-)?\d+\.img$/;

/** The columns of a PostgreSQL table, in order: what both sides copy. */
export async function postgresColumns(client: pg.Client, table: string): Promise<string[]> {
  const r = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return r.rows.map((c) => c.column_name);
}
