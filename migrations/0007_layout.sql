-- 0007_layout: the keys and indexes of a store that writes a checkpoint near SQLite's
-- own speed and can be sharded by checkpoint.
--
-- Measured on a checkpoint of a million fds (npm run bench -- writer): a row's cost is
-- almost all index upkeep. Appending to a rowid table is the cheapest insert SQLite
-- has; each secondary index adds about 40% to a row's cost when its entries come in
-- order, about 90% when they do not (a key of text); a WITHOUT ROWID table clustered
-- by (checkpoint_id, id) costs what a rowid table with a (checkpoint_id, id) index
-- does. So:
--
--   * The big tables keep their rowid as id. The writer gives every row its id
--     (one above the table's largest, holding the write lock), so a checkpoint's rows
--     are one run of ids, in the order they were added: the table is clustered by
--     checkpoint, and joins on id alone are as fast as ever. Ids stay unique across
--     the store, so (checkpoint_id, id) is unique too.
--   * Every unique key and every secondary index leads with checkpoint_id, and every
--     join of the views below carries it: one checkpoint is one range of each index,
--     and a store sharded by checkpoint (PostgreSQL with Citus) declares the same keys
--     with checkpoint_id in front of each primary and foreign key.
--   * Indexes nothing reads are gone: files by type, fds / maps / namespaces / limits by
--     checkpoint alone (each table has an index that starts with checkpoint_id anyway),
--     tasks by tgid alone (tasks_tgid_fdtable starts with it).
--   * The two tables of small rows keyed by their task, task_namespaces and
--     task_rlimits, are WITHOUT ROWID, clustered by (checkpoint_id, task_id, ...): one
--     b-tree each instead of three.
--
-- Foreign keys stay on the id columns: a composite key would need a (checkpoint_id, id)
-- index on every parent, which costs about a quarter of the write speed, and the id
-- alone is unique. verify checks that no reference crosses checkpoints. Deleting a
-- checkpoint runs with foreign key checks off (sql/internal/store.sql deletes every row
-- of it), since a check per deleted row would have to scan the child tables.
--
-- The tables of file details (0005) and the page runs (0006) already have keys led by
-- checkpoint_id and reference no rebuilt table: they are kept as they are.
--
-- Statistics for the query planner are given, not measured (sqlite_stat1, at the end):
-- without them SQLite takes "checkpoint_id = ?" for a handful of rows and reads a whole
-- checkpoint where one fd was asked for. They describe a store of ten checkpoints of a
-- million fds; only their proportions matter. ANALYZE replaces them with measured ones.
--
-- Views that name a rebuilt table are dropped first (a rename would carry them along)
-- and made again at the end, with the same names and columns.

DROP VIEW object_refs;
DROP VIEW object_holders;
DROP VIEW open_fds;
DROP VIEW fd_holders;

DROP INDEX files_checkpoint;
DROP INDEX files_object;
DROP INDEX fds_checkpoint;
DROP INDEX fds_file;
DROP INDEX maps_checkpoint;
DROP INDEX tasks_tgid;
DROP INDEX tasks_ppid;
DROP INDEX tasks_mm;
DROP INDEX tasks_fdtable;
DROP INDEX tasks_fs;
DROP INDEX tasks_sighand;
DROP INDEX tasks_tgid_fdtable;
DROP INDEX tasks_fdtable_holder;

CREATE INDEX files_object ON files (checkpoint_id, object_id);
CREATE INDEX tasks_ppid ON tasks (checkpoint_id, ppid);
CREATE INDEX tasks_mm ON tasks (checkpoint_id, mm_id);
CREATE INDEX tasks_fs ON tasks (checkpoint_id, fs_id);
CREATE INDEX tasks_sighand ON tasks (checkpoint_id, sighand_id);
-- Which tasks hold an fd table, from the index alone (fdtable_holders): by process,
-- and by table.
CREATE INDEX tasks_tgid_fdtable ON tasks (checkpoint_id, tgid, fdtable_id, pid);
CREATE INDEX tasks_fdtable_holder ON tasks (checkpoint_id, fdtable_id, tgid, pid);

ALTER TABLE fds RENAME TO fds_old;
CREATE TABLE fds (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  fdtable_id    INTEGER NOT NULL REFERENCES shared_objects (id),
  fd            INTEGER NOT NULL,
  cloexec       INTEGER NOT NULL CHECK (cloexec IN (0, 1)),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  UNIQUE (checkpoint_id, fdtable_id, fd)
);
INSERT INTO fds (id, checkpoint_id, fdtable_id, fd, cloexec, file_id)
SELECT id, checkpoint_id, fdtable_id, fd, cloexec, file_id FROM fds_old ORDER BY id;
DROP TABLE fds_old;
CREATE INDEX fds_file ON fds (checkpoint_id, file_id);

ALTER TABLE maps RENAME TO maps_old;
CREATE TABLE maps (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  mm_id         INTEGER NOT NULL REFERENCES shared_objects (id),
  start_addr    TEXT    NOT NULL,
  end_addr      TEXT    NOT NULL,
  perms         TEXT    NOT NULL,               -- as in /proc/PID/maps: rwxp / rwxs
  pgoff         INTEGER,
  dev           TEXT,
  inode         INTEGER,
  path          TEXT,
  attrs         TEXT,
  UNIQUE (checkpoint_id, mm_id, start_addr)
);
INSERT INTO maps (id, checkpoint_id, mm_id, start_addr, end_addr, perms, pgoff, dev, inode, path, attrs)
SELECT id, checkpoint_id, mm_id, start_addr, end_addr, perms, pgoff, dev, inode, path, attrs FROM maps_old ORDER BY id;
DROP TABLE maps_old;

-- type: cgroup | ipc | mnt | net | pid | pid_for_children | time | time_for_children | user | uts
ALTER TABLE task_namespaces RENAME TO task_namespaces_old;
CREATE TABLE task_namespaces (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  task_id       INTEGER NOT NULL REFERENCES tasks (id),
  type          TEXT    NOT NULL,
  ns_id         INTEGER NOT NULL REFERENCES shared_objects (id),
  PRIMARY KEY (checkpoint_id, task_id, type)
) WITHOUT ROWID;
INSERT INTO task_namespaces (checkpoint_id, task_id, type, ns_id)
SELECT checkpoint_id, task_id, type, ns_id FROM task_namespaces_old;
DROP TABLE task_namespaces_old;
CREATE INDEX task_namespaces_ns ON task_namespaces (checkpoint_id, ns_id);

-- soft / hard NULL means unlimited.
ALTER TABLE task_rlimits RENAME TO task_rlimits_old;
CREATE TABLE task_rlimits (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  task_id       INTEGER NOT NULL REFERENCES tasks (id),
  resource      TEXT    NOT NULL,               -- cpu | fsize | data | stack | core | rss | nproc | nofile | ...
  soft          INTEGER,
  hard          INTEGER,
  PRIMARY KEY (checkpoint_id, task_id, resource)
) WITHOUT ROWID;
INSERT INTO task_rlimits (checkpoint_id, task_id, resource, soft, hard)
SELECT checkpoint_id, task_id, resource, soft, hard FROM task_rlimits_old;
DROP TABLE task_rlimits_old;

-- Every reference that a refcount counts, one row each (see 0001_init).
CREATE VIEW object_refs AS
  SELECT checkpoint_id, file_id AS object_id, 'fd' AS ref_kind, id AS ref_id FROM fds
  UNION ALL
  SELECT checkpoint_id, object_id, 'file', id FROM files WHERE object_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, mm_id, 'task', id FROM tasks WHERE mm_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, fdtable_id, 'task', id FROM tasks WHERE fdtable_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, fs_id, 'task', id FROM tasks WHERE fs_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, sighand_id, 'task', id FROM tasks WHERE sighand_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, ns_id, 'task', task_id FROM task_namespaces;

-- fd_holders: every fd with the process holding it (see 0002_views). A query by
-- file_id names the checkpoint too, to read one range of fds_file:
--   SELECT pid, fd FROM fd_holders WHERE checkpoint_id = 1 AND file_id = 77;
CREATE VIEW fd_holders AS
SELECT d.checkpoint_id, d.file_id, h.pid, h.tid, d.fd, d.cloexec, d.fdtable_id, d.id AS fd_id
FROM fds d
JOIN fdtable_holders h ON h.checkpoint_id = d.checkpoint_id AND h.fdtable_id = d.fdtable_id;

-- open_fds: every fd of every process, like lsof (see 0002_views).
--   SELECT fd, type, path, shared FROM open_fds WHERE checkpoint_id = 1 AND pid = 4242;
CREATE VIEW open_fds AS
SELECT h.checkpoint_id,
       h.pid,
       h.tid,
       k.comm,
       d.fd,
       d.cloexec,
       f.type,
       f.path,
       f.pos,
       f.flags,
       f.mode,
       f.deleted,
       f.dev,
       f.inode,
       f.mnt_id,
       d.file_id,
       fo.refcount AS shared,
       f.object_id,
       o.kind AS object_kind,
       o.key AS object_key,
       d.fdtable_id,
       d.id AS fd_id
FROM fdtable_holders h
JOIN fds d ON d.checkpoint_id = h.checkpoint_id AND d.fdtable_id = h.fdtable_id
JOIN files f ON f.id = d.file_id AND f.checkpoint_id = d.checkpoint_id
JOIN shared_objects fo ON fo.id = d.file_id AND fo.checkpoint_id = d.checkpoint_id
LEFT JOIN shared_objects o ON o.id = f.object_id AND o.checkpoint_id = f.checkpoint_id
LEFT JOIN tasks k ON k.checkpoint_id = h.checkpoint_id AND k.pid = h.tid;

-- object_holders: who references each shared object, one row per reference, named by
-- process (see 0002_views).
--   SELECT pid, fd FROM object_holders WHERE checkpoint_id = 1 AND object_id = 77;
CREATE VIEW object_holders AS
SELECT o.checkpoint_id, o.id AS object_id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN fd_holders h ON h.checkpoint_id = o.checkpoint_id AND h.file_id = o.id
WHERE o.kind = 'file'
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN files f ON f.checkpoint_id = o.checkpoint_id AND f.object_id = o.id
JOIN fd_holders h ON h.checkpoint_id = f.checkpoint_id AND h.file_id = f.id
WHERE o.kind IN ('inode', 'pipe', 'socket', 'anon')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN tasks t ON (t.checkpoint_id = o.checkpoint_id AND t.mm_id = o.id)
             OR (t.checkpoint_id = o.checkpoint_id AND t.fdtable_id = o.id)
             OR (t.checkpoint_id = o.checkpoint_id AND t.fs_id = o.id)
             OR (t.checkpoint_id = o.checkpoint_id AND t.sighand_id = o.id)
WHERE o.kind IN ('mm', 'fdtable', 'fs', 'sighand')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN task_namespaces n ON n.checkpoint_id = o.checkpoint_id AND n.ns_id = o.id
JOIN tasks t ON t.id = n.task_id AND t.checkpoint_id = n.checkpoint_id
WHERE o.kind = 'ns';

-- The planner's statistics (see the top). Each row: rows in the index, then the rows
-- one value of its first column, first two columns, ... selects on average.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
  ('shared_objects', 'sqlite_autoindex_shared_objects_1', '14000000 1400000 150000 1'),
  ('shared_objects', 'shared_objects_refcount', '14000000 1400000 150000 40000'),
  ('shared_objects', 'shared_objects_shared', '1400000 140000 17000'),
  ('files', 'files_object', '10000000 1000000 3'),
  ('files', 'files_deleted', '25000 2500'),
  ('fds', 'sqlite_autoindex_fds_1', '10000000 1000000 250 1'),
  ('fds', 'fds_file', '10000000 1000000 1'),
  ('maps', 'sqlite_autoindex_maps_1', '2000000 200000 50 1'),
  ('tasks', 'sqlite_autoindex_tasks_1', '100000 10000 1'),
  ('tasks', 'tasks_ppid', '100000 10000 100'),
  ('tasks', 'tasks_mm', '100000 10000 3'),
  ('tasks', 'tasks_fs', '100000 10000 3'),
  ('tasks', 'tasks_sighand', '100000 10000 3'),
  ('tasks', 'tasks_tgid_fdtable', '100000 10000 3 3 1'),
  ('tasks', 'tasks_fdtable_holder', '100000 10000 3 3 1'),
  ('task_namespaces', 'task_namespaces', '1000000 100000 10 1'),
  ('task_namespaces', 'task_namespaces_ns', '1000000 100000 1000'),
  ('task_rlimits', 'task_rlimits', '1600000 160000 16 1'),
  ('sockets', 'sockets_checkpoint', '2500000 250000 100000'),
  ('sockets', 'sockets_state', '2500000 250000 50000'),
  ('file_eventfds', 'file_eventfds', '10000 1000 1'),
  ('epoll_targets', 'epoll_targets', '100000 10000 10 1'),
  ('inotify_watches', 'inotify_watches', '50000 5000 10 1'),
  ('inotify_watches', 'inotify_watches_inode', '50000 5000 2'),
  ('file_timerfds', 'file_timerfds', '10000 1000 1'),
  ('file_signalfds', 'file_signalfds', '10000 1000 1'),
  ('file_ttys', 'file_ttys', '10000 1000 1'),
  ('file_ttys', 'file_ttys_index', '10000 1000 500 2'),
  ('criu_page_runs', 'sqlite_autoindex_criu_page_runs_1', '1000000 100000 1000 1');
-- read again by this connection now, not only by the next one
ANALYZE sqlite_schema;
