-- Statements of the image exporter (src/formats/image/exporter.ts): the restore order of
-- one checkpoint, built in two TEMP tables of the exporting connection, then read out
-- record by record. Named parameters.
--
--   image_tasks   (seq, task_id): the tree from its roots, parents before children; a
--                 thread right after its thread-group leader, siblings by pid.
--   image_objects (image_id, object_id): every shared object numbered in the order the
--                 image defines it, which is the order of first reference.

-- name: create_order_tables
DROP VIEW IF EXISTS temp.image_object_rows;
DROP VIEW IF EXISTS temp.image_file_rows;
DROP TABLE IF EXISTS temp.image_tasks;
DROP TABLE IF EXISTS temp.image_objects;
CREATE TEMP TABLE image_tasks (seq INTEGER PRIMARY KEY, task_id INTEGER NOT NULL UNIQUE);
CREATE TEMP TABLE image_objects (image_id INTEGER PRIMARY KEY, object_id INTEGER NOT NULL UNIQUE);
-- A shared object with its image id (o_*), and a socket's details (s_*) when there are any.
CREATE TEMP VIEW image_object_rows AS
SELECT o.id AS o_store, i.image_id AS o_image, o.kind AS o_kind, o.key AS o_key, o.refcount AS o_refcount,
       o.inferred AS o_inferred, o.attrs AS o_attrs,
       s.object_id AS s_object, s.family AS s_family, s.sock_type AS s_type, s.protocol AS s_protocol,
       s.state AS s_state, s.local_addr AS s_local_addr, s.local_port AS s_local_port,
       s.remote_addr AS s_remote_addr, s.remote_port AS s_remote_port,
       CAST(s.peer_ino AS TEXT) AS s_peer_ino, s.attrs AS s_attrs
FROM temp.image_objects i
JOIN shared_objects o ON o.id = i.object_id
LEFT JOIN sockets s ON s.object_id = o.id;
-- An open file with its image id and the image id of the object behind it (f_*).
CREATE TEMP VIEW image_file_rows AS
SELECT f.id AS f_store, f.object_id AS f_store_object, i.image_id AS f_image, o.key AS f_key,
       o.refcount AS f_refcount, o.inferred AS f_inferred, f.type AS f_type, f.path AS f_path,
       CAST(f.pos AS TEXT) AS f_pos, f.flags AS f_flags, f.mode AS f_mode, f.mnt_id AS f_mnt_id, f.dev AS f_dev,
       CAST(f.inode AS TEXT) AS f_inode, f.deleted AS f_deleted, fo.image_id AS f_object,
       f.unreadable AS f_unreadable, f.attrs AS f_attrs
FROM files f
JOIN temp.image_objects i ON i.object_id = f.id
JOIN shared_objects o ON o.id = f.id
LEFT JOIN temp.image_objects fo ON fo.object_id = f.object_id;

-- name: drop_order_tables
DROP VIEW IF EXISTS temp.image_object_rows;
DROP VIEW IF EXISTS temp.image_file_rows;
DROP TABLE IF EXISTS temp.image_tasks;
DROP TABLE IF EXISTS temp.image_objects;

-- name: order_tasks
-- A task's parent is its thread-group leader when it is a thread whose leader is in
-- the checkpoint, else the task whose pid is its ppid. Tasks without a parent in the
-- checkpoint are roots; a task caught in a ppid cycle is reached from no root.
INSERT INTO temp.image_tasks (task_id)
WITH RECURSIVE
  link AS MATERIALIZED (
    SELECT t.id, t.pid,
           l.pid IS NOT NULL AS is_thread,
           coalesce(l.pid, p.pid) AS parent_pid
    FROM tasks t
    LEFT JOIN tasks l ON t.pid <> t.tgid AND l.checkpoint_id = t.checkpoint_id AND l.pid = t.tgid
    LEFT JOIN tasks p ON p.checkpoint_id = t.checkpoint_id AND p.pid = t.ppid
    WHERE t.checkpoint_id = :id
  ),
  walk (id, pid, path) AS (
    SELECT id, pid, printf('1%010d', pid) FROM link WHERE parent_pid IS NULL
    UNION ALL
    SELECT c.id, c.pid, w.path || printf('%d%010d', CASE WHEN c.is_thread THEN 0 ELSE 1 END, c.pid)
    FROM walk w JOIN link c ON c.parent_pid = w.pid
  )
SELECT id FROM walk ORDER BY path;

-- name: unordered_tasks
-- Tasks no root reaches: their ppids form a cycle, so they have no restore order.
SELECT pid FROM tasks
WHERE checkpoint_id = :id AND id NOT IN (SELECT task_id FROM temp.image_tasks)
ORDER BY pid LIMIT 10;

-- name: ordered_tasks
-- CROSS JOIN keeps the order: the temp table has no statistics, and the planner would
-- rather scan every task of the store and look each one up in it.
SELECT i.seq, t.id, t.fdtable_id FROM temp.image_tasks i CROSS JOIN tasks t ON t.id = i.task_id ORDER BY i.seq;

-- name: is_numbered
SELECT 1 FROM temp.image_objects WHERE object_id = :object;

-- name: number_task_objects
-- What a task refers to, in the order its record lists them.
INSERT OR IGNORE INTO temp.image_objects (object_id)
SELECT ref FROM (
  SELECT 0 AS slot, '' AS sub, mm_id AS ref FROM tasks WHERE id = :task
  UNION ALL SELECT 1, '', fdtable_id FROM tasks WHERE id = :task
  UNION ALL SELECT 2, '', fs_id FROM tasks WHERE id = :task
  UNION ALL SELECT 3, '', sighand_id FROM tasks WHERE id = :task
  UNION ALL SELECT 4, type, ns_id FROM task_namespaces WHERE checkpoint_id = :id AND task_id = :task
)
WHERE ref IS NOT NULL
ORDER BY slot, sub;

-- name: number_fdtable_files
-- The open files of an fd table's slots, each after the object behind it, by fd.
INSERT OR IGNORE INTO temp.image_objects (object_id)
SELECT ref FROM (
  SELECT d.fd, 0 AS sub, f.object_id AS ref FROM fds d JOIN files f ON f.id = d.file_id WHERE d.checkpoint_id = :id AND d.fdtable_id = :fdtable
  UNION ALL
  SELECT d.fd, 1, d.file_id FROM fds d WHERE d.checkpoint_id = :id AND d.fdtable_id = :fdtable
)
WHERE ref IS NOT NULL
ORDER BY fd, sub;

-- name: count_unnumbered
SELECT (SELECT count(*) FROM shared_objects WHERE checkpoint_id = :id) - (SELECT count(*) FROM temp.image_objects);

-- name: unnumbered_fdtables
SELECT id FROM shared_objects
WHERE checkpoint_id = :id AND kind = 'fdtable' AND id NOT IN (SELECT object_id FROM temp.image_objects)
ORDER BY id;

-- name: number_object
INSERT OR IGNORE INTO temp.image_objects (object_id) VALUES (:object);

-- name: number_rest
-- Files no fd holds (each after its object), then every object nothing refers to.
INSERT OR IGNORE INTO temp.image_objects (object_id)
SELECT ref FROM (
  SELECT f.id AS k, 0 AS sub, f.object_id AS ref FROM files f
  WHERE f.checkpoint_id = :id AND f.id NOT IN (SELECT object_id FROM temp.image_objects)
  UNION ALL
  SELECT f.id, 1, f.id FROM files f
  WHERE f.checkpoint_id = :id AND f.id NOT IN (SELECT object_id FROM temp.image_objects)
)
WHERE ref IS NOT NULL
ORDER BY k, sub;
INSERT OR IGNORE INTO temp.image_objects (object_id)
SELECT id FROM shared_objects
WHERE checkpoint_id = :id AND id NOT IN (SELECT object_id FROM temp.image_objects)
ORDER BY id;

-- name: checkpoint
SELECT id, label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta
FROM checkpoints WHERE id = :id;

-- name: task
-- Columns named and ordered as the image's task record; namespaces and rlimits are filled in after.
SELECT t.pid, t.tgid, t.ppid, t.pgid, t.sid, t.state, t.comm,
       t.uid, t.euid, t.suid, t.fsuid, t.gid, t.egid, t.sgid, t.fsgid,
       t.cmdline, t.exe, t.cwd, t.root, CAST(t.start_time AS TEXT) AS startTime,
       t.sig_pending AS sigPending, t.sig_blocked AS sigBlocked, t.sig_ignored AS sigIgnored, t.sig_caught AS sigCaught,
       t.env, mm.image_id AS mm, ft.image_id AS fdtable, fs.image_id AS fs, sh.image_id AS sighand,
       NULL AS namespaces, NULL AS rlimits, t.unreadable, t.attrs,
       t.mm_id, t.fdtable_id
FROM tasks t
LEFT JOIN temp.image_objects mm ON mm.object_id = t.mm_id
LEFT JOIN temp.image_objects ft ON ft.object_id = t.fdtable_id
LEFT JOIN temp.image_objects fs ON fs.object_id = t.fs_id
LEFT JOIN temp.image_objects sh ON sh.object_id = t.sighand_id
WHERE t.id = :task;

-- name: task_namespaces
SELECT n.type, i.image_id FROM task_namespaces n JOIN temp.image_objects i ON i.object_id = n.ns_id
WHERE n.checkpoint_id = :id AND n.task_id = :task ORDER BY n.type;

-- name: task_rlimits
SELECT resource, CAST(soft AS TEXT) AS soft, CAST(hard AS TEXT) AS hard
FROM task_rlimits WHERE checkpoint_id = :id AND task_id = :task ORDER BY resource;

-- name: object
SELECT * FROM temp.image_object_rows WHERE o_image = :image;

-- name: file
SELECT * FROM temp.image_file_rows WHERE f_image = :image;

-- name: objects_from
-- Objects from an image id on, for what the tree does not reach.
SELECT i.image_id, i.object_id, o.kind FROM temp.image_objects i JOIN shared_objects o ON o.id = i.object_id
WHERE i.image_id >= :image ORDER BY i.image_id;

-- name: fdtable_records
-- An fd table's slots by fd, each with the records of its open file and of the object
-- behind that file as JSON text, written here as JSON.stringify writes the records of
-- types.ts (same fields, same order; 64-bit values as decimal text): on a checkpoint of
-- a million fds, building them in SQLite saves the exporter most of its time. A record
-- is only needed where its object is defined, at its first reference, so it is only
-- rendered where its image id is not below :next, the first id not yet written.
SELECT d.fd, d.cloexec, fi.image_id AS f_image, oi.image_id AS o_image,
       CASE WHEN fi.image_id >= :next THEN json_object(
         'record', 'file', 'id', fi.image_id, 'key', fo.key, 'refcount', fo.refcount,
         'inferred', json(iif(fo.inferred, 'true', 'false')),
         'type', f.type, 'path', f.path, 'pos', CAST(f.pos AS TEXT), 'flags', f.flags, 'mode', f.mode,
         'mntId', f.mnt_id, 'dev', f.dev, 'inode', CAST(f.inode AS TEXT),
         'deleted', json(iif(f.deleted, 'true', 'false')), 'object', oi.image_id,
         'unreadable', f.unreadable, 'attrs', json(f.attrs)) END AS file_json,
       CASE WHEN oi.image_id >= :next THEN json_object(
         'record', 'object', 'id', oi.image_id, 'kind', o.kind, 'key', o.key, 'refcount', o.refcount,
         'inferred', json(iif(o.inferred, 'true', 'false')), 'attrs', json(o.attrs),
         'socket', CASE WHEN s.object_id IS NOT NULL THEN json_object(
           'family', s.family, 'type', s.sock_type, 'protocol', s.protocol, 'state', s.state,
           'localAddr', s.local_addr, 'localPort', s.local_port, 'remoteAddr', s.remote_addr,
           'remotePort', s.remote_port, 'peerIno', CAST(s.peer_ino AS TEXT), 'attrs', json(s.attrs)) END) END AS object_json
FROM fds d
JOIN temp.image_objects fi ON fi.object_id = d.file_id
JOIN files f ON f.id = d.file_id
JOIN shared_objects fo ON fo.id = d.file_id
LEFT JOIN temp.image_objects oi ON oi.object_id = f.object_id
LEFT JOIN shared_objects o ON o.id = f.object_id
LEFT JOIN sockets s ON s.object_id = f.object_id
WHERE d.checkpoint_id = :id AND d.fdtable_id = :fdtable
ORDER BY d.fd;

-- name: mm_maps
SELECT start_addr, end_addr, perms, CAST(pgoff AS TEXT) AS pgoff, dev, CAST(inode AS TEXT) AS inode, path, attrs
FROM maps WHERE checkpoint_id = :id AND mm_id = :mm ORDER BY start_addr;

-- The details of anonymous files, by the files' image ids (types.ts: after the tree).
-- name: detail_eventfds
SELECT i.image_id AS file, CAST(d.counter AS TEXT) AS counter
FROM file_eventfds d JOIN temp.image_objects i ON i.object_id = d.file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id;

-- name: detail_epoll_targets
SELECT i.image_id AS file, d.seq, d.tfd, d.events, CAST(d.data AS TEXT) AS data, CAST(d.inode AS TEXT) AS inode, d.dev, CAST(d.pos AS TEXT) AS pos
FROM epoll_targets d JOIN temp.image_objects i ON i.object_id = d.file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id, d.seq;

-- name: detail_inotify_watches
SELECT i.image_id AS file, d.wd, CAST(d.inode AS TEXT) AS inode, d.dev, d.mask, d.ignored_mask AS ignoredMask
FROM inotify_watches d JOIN temp.image_objects i ON i.object_id = d.file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id, d.wd;

-- name: detail_timerfds
SELECT i.image_id AS file, d.clockid, CAST(d.ticks AS TEXT) AS ticks, d.settime_flags AS settimeFlags,
       CAST(d.interval_ns AS TEXT) AS intervalNs, CAST(d.value_ns AS TEXT) AS valueNs
FROM file_timerfds d JOIN temp.image_objects i ON i.object_id = d.file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id;

-- name: detail_signalfds
SELECT i.image_id AS file, d.sigmask
FROM file_signalfds d JOIN temp.image_objects i ON i.object_id = d.file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id;

-- name: detail_ttys
SELECT i.image_id AS file, d.kind, d.tty_index AS "index", d.role, d.rdev, p.image_id AS peer
FROM file_ttys d JOIN temp.image_objects i ON i.object_id = d.file_id
LEFT JOIN temp.image_objects p ON p.object_id = d.peer_file_id
WHERE d.checkpoint_id = :id ORDER BY i.image_id;
