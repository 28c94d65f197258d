-- Statements of `ckptdb mount` (src/mount/): the tree of export --format tree, read
-- piece by piece on a read-only connection. Named parameters.
--
-- The tree names objects, files and chunks by their image ids, which the exporter gives
-- in restore order (image.sql, criu.sql). The mount numbers a checkpoint once, the
-- first time it needs its ids, and keeps the numbers in TEMP tables of its connection,
-- for every checkpoint at once (a committed checkpoint never changes):
--
--   mount_numbered (checkpoint_id, finished_at): the checkpoints numbered, and which
--                  commit of that id (an id comes back after the newest checkpoint is
--                  removed and another committed)
--   mount_objects  (checkpoint_id, image_id, object_id, is_file): objects and files
--   mount_chunks   (checkpoint_id, n, chunk_id): the chunks of CRIU's files

-- name: create_tables
CREATE TEMP TABLE IF NOT EXISTS mount_numbered (
  checkpoint_id INTEGER PRIMARY KEY,
  finished_at   TEXT NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS mount_objects (
  checkpoint_id INTEGER NOT NULL,
  image_id      INTEGER NOT NULL,
  object_id     INTEGER NOT NULL UNIQUE,
  is_file       INTEGER NOT NULL,
  PRIMARY KEY (checkpoint_id, image_id)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS mount_chunks (
  checkpoint_id INTEGER NOT NULL,
  n             INTEGER NOT NULL,
  chunk_id      INTEGER NOT NULL,
  PRIMARY KEY (checkpoint_id, n)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS temp.mount_chunks_chunk ON mount_chunks (checkpoint_id, chunk_id);

-- name: data_version
-- Changes when another connection commits: a checkpoint added or removed.
PRAGMA data_version;

-- name: store_signature
-- What the root of the mount shows: which checkpoints there are.
SELECT count(*) AS n, coalesce(sum(id), 0) AS ids, max(id) AS newest, coalesce(max(finished_at), '') AS finished FROM checkpoints;

-- name: numbered
SELECT finished_at FROM temp.mount_numbered WHERE checkpoint_id = :id;

-- name: forget_numbering
DELETE FROM temp.mount_objects WHERE checkpoint_id = :id;
DELETE FROM temp.mount_chunks WHERE checkpoint_id = :id;
DELETE FROM temp.mount_numbered WHERE checkpoint_id = :id;

-- name: save_numbering
-- After numberRestoreOrder (image.sql) and number_chunks (criu.sql) filled their tables.
INSERT INTO temp.mount_objects (checkpoint_id, image_id, object_id, is_file)
SELECT :id, i.image_id, i.object_id, o.kind = 'file'
FROM temp.image_objects i JOIN shared_objects o ON o.id = i.object_id;
INSERT INTO temp.mount_chunks (checkpoint_id, n, chunk_id)
SELECT :id, n, chunk_id FROM temp.criu_chunk_order;
INSERT INTO temp.mount_numbered (checkpoint_id, finished_at) VALUES (:id, :finished_at);

-- name: checkpoint_finished
SELECT finished_at FROM checkpoints WHERE id = :id;

-- name: checkpoints_from
SELECT id, finished_at FROM checkpoints WHERE id >= :from ORDER BY id;

-- name: checkpoint_parts
-- The folders of checkpoint-ID/ besides its tasks: each is there when it holds something.
SELECT EXISTS (SELECT 1 FROM shared_objects WHERE checkpoint_id = :id AND kind <> 'file') AS objects,
       EXISTS (SELECT 1 FROM files WHERE checkpoint_id = :id) AS files,
       EXISTS (SELECT 1 FROM criu_images WHERE checkpoint_id = :id) AS criu;

-- name: tasks_from
SELECT id, pid FROM tasks WHERE checkpoint_id = :id AND pid >= :from ORDER BY pid;

-- name: task_by_pid
SELECT id FROM tasks WHERE checkpoint_id = :id AND pid = :pid;

-- name: objects_from
SELECT image_id, object_id FROM temp.mount_objects
WHERE checkpoint_id = :id AND image_id >= :from AND is_file = :is_file
ORDER BY image_id;

-- name: object_by_image
SELECT object_id FROM temp.mount_objects WHERE checkpoint_id = :id AND image_id = :image AND is_file = :is_file;

-- The checkpoint of a row, so that it is numbered before the row is read.

-- name: object_checkpoint
SELECT checkpoint_id FROM shared_objects WHERE id = :id;

-- name: file_checkpoint
SELECT checkpoint_id FROM files WHERE id = :id;

-- name: fd_checkpoint
SELECT checkpoint_id FROM fds WHERE id = :id;

-- name: map_checkpoint
SELECT checkpoint_id FROM maps WHERE id = :id;

-- name: object
-- A shared object with its image id (o_*), and a socket's details (s_*), as image.sql's
-- image_object_rows.
SELECT o.checkpoint_id, o.id AS o_store, i.image_id AS o_image, o.kind AS o_kind, o.key AS o_key, o.refcount AS o_refcount,
       o.inferred AS o_inferred, o.attrs AS o_attrs,
       s.object_id AS s_object, s.family AS s_family, s.sock_type AS s_type, s.protocol AS s_protocol,
       s.state AS s_state, s.local_addr AS s_local_addr, s.local_port AS s_local_port,
       s.remote_addr AS s_remote_addr, s.remote_port AS s_remote_port,
       CAST(s.peer_ino AS TEXT) AS s_peer_ino, s.attrs AS s_attrs
FROM shared_objects o
JOIN temp.mount_objects i ON i.object_id = o.id
LEFT JOIN sockets s ON s.object_id = o.id
WHERE o.id = :id;

-- name: file
-- An open file with its image id and the image id of the object behind it (f_*), as
-- image.sql's image_file_rows.
SELECT f.checkpoint_id, f.id AS f_store, i.image_id AS f_image, o.key AS f_key,
       o.refcount AS f_refcount, o.inferred AS f_inferred, f.type AS f_type, f.path AS f_path,
       CAST(f.pos AS TEXT) AS f_pos, f.flags AS f_flags, f.mode AS f_mode, f.mnt_id AS f_mnt_id, f.dev AS f_dev,
       CAST(f.inode AS TEXT) AS f_inode, f.deleted AS f_deleted, fo.image_id AS f_object,
       f.unreadable AS f_unreadable, f.attrs AS f_attrs
FROM files f
JOIN temp.mount_objects i ON i.object_id = f.id
JOIN shared_objects o ON o.id = f.id
LEFT JOIN temp.mount_objects fo ON fo.object_id = f.object_id
WHERE f.id = :id;

-- name: file_details
-- The details of an open file (an anonymous file's, a tty's), each as its record's
-- fields in JSON, named as image.sql's detail_* give them.
SELECT 'eventfd' AS record, json_object('counter', CAST(counter AS TEXT)) AS fields
FROM file_eventfds WHERE checkpoint_id = :checkpoint AND file_id = :id
UNION ALL
SELECT 'epollTarget', json_object('seq', seq, 'tfd', tfd, 'events', events, 'data', CAST(data AS TEXT),
       'inode', CAST(inode AS TEXT), 'dev', dev, 'pos', CAST(pos AS TEXT))
FROM epoll_targets WHERE checkpoint_id = :checkpoint AND file_id = :id
UNION ALL
SELECT 'inotifyWatch', json_object('wd', wd, 'inode', CAST(inode AS TEXT), 'dev', dev, 'mask', mask, 'ignoredMask', ignored_mask)
FROM inotify_watches WHERE checkpoint_id = :checkpoint AND file_id = :id
UNION ALL
SELECT 'timerfd', json_object('clockid', clockid, 'ticks', CAST(ticks AS TEXT), 'settimeFlags', settime_flags,
       'intervalNs', CAST(interval_ns AS TEXT), 'valueNs', CAST(value_ns AS TEXT))
FROM file_timerfds WHERE checkpoint_id = :checkpoint AND file_id = :id
UNION ALL
SELECT 'signalfd', json_object('sigmask', sigmask)
FROM file_signalfds WHERE checkpoint_id = :checkpoint AND file_id = :id
UNION ALL
SELECT 'tty', json_object('kind', d.kind, 'index', d.tty_index, 'role', d.role, 'rdev', d.rdev, 'peer', p.image_id)
FROM file_ttys d LEFT JOIN temp.mount_objects p ON p.object_id = d.peer_file_id
WHERE d.checkpoint_id = :checkpoint AND d.file_id = :id;

-- name: task
-- Columns named and ordered as the image's task record, as image.sql's task.
SELECT t.pid, t.tgid, t.ppid, t.pgid, t.sid, t.state, t.comm,
       t.uid, t.euid, t.suid, t.fsuid, t.gid, t.egid, t.sgid, t.fsgid,
       t.cmdline, t.exe, t.cwd, t.root, CAST(t.start_time AS TEXT) AS startTime,
       t.sig_pending AS sigPending, t.sig_blocked AS sigBlocked, t.sig_ignored AS sigIgnored, t.sig_caught AS sigCaught,
       t.env, mm.image_id AS mm, ft.image_id AS fdtable, fs.image_id AS fs, sh.image_id AS sighand,
       NULL AS namespaces, NULL AS rlimits, t.unreadable, t.attrs
FROM tasks t
LEFT JOIN temp.mount_objects mm ON mm.object_id = t.mm_id
LEFT JOIN temp.mount_objects ft ON ft.object_id = t.fdtable_id
LEFT JOIN temp.mount_objects fs ON fs.object_id = t.fs_id
LEFT JOIN temp.mount_objects sh ON sh.object_id = t.sighand_id
WHERE t.id = :task;

-- name: task_checkpoint
SELECT checkpoint_id FROM tasks WHERE id = :task;

-- name: task_namespaces
SELECT n.type, i.image_id FROM task_namespaces n JOIN temp.mount_objects i ON i.object_id = n.ns_id
WHERE n.checkpoint_id = :id AND n.task_id = :task ORDER BY n.type;

-- name: fd
SELECT d.checkpoint_id, ft.image_id AS fdtable, d.fd, d.cloexec, fi.image_id AS file
FROM fds d
JOIN temp.mount_objects ft ON ft.object_id = d.fdtable_id
JOIN temp.mount_objects fi ON fi.object_id = d.file_id
WHERE d.id = :id;

-- name: fds_from
SELECT id, fd FROM fds WHERE checkpoint_id = :id AND fdtable_id = :fdtable AND fd >= :from ORDER BY fd;

-- name: fd_by_number
SELECT id FROM fds WHERE checkpoint_id = :id AND fdtable_id = :fdtable AND fd = :fd;

-- name: map
-- A mapping, with the image id of its address space, as image.sql's mm_maps.
SELECT m.checkpoint_id, i.image_id AS mm, m.start_addr, m.end_addr, m.perms, CAST(m.pgoff AS TEXT) AS pgoff,
       m.dev, CAST(m.inode AS TEXT) AS inode, m.path, m.attrs
FROM maps m JOIN temp.mount_objects i ON i.object_id = m.mm_id
WHERE m.id = :id;

-- name: maps_of
SELECT id, start_addr FROM maps WHERE checkpoint_id = :id AND mm_id = :mm ORDER BY start_addr;

-- name: map_by_start
SELECT id FROM maps WHERE checkpoint_id = :id AND mm_id = :mm AND start_addr = :start;

-- name: images
-- The files CRIU wrote, by name.
SELECT id, name, size FROM criu_images WHERE checkpoint_id = :id ORDER BY name;

-- name: image
SELECT checkpoint_id, name, kind, role, head_magic, size, entries FROM criu_images WHERE id = :id;

-- name: image_chunk_numbers
SELECT c.n FROM criu_image_chunks ic
JOIN temp.mount_chunks c ON c.checkpoint_id = :checkpoint_id AND c.chunk_id = ic.chunk_id
WHERE ic.image_id = :id ORDER BY ic.seq;

-- name: chunks_from
SELECT n, chunk_id FROM temp.mount_chunks WHERE checkpoint_id = :id AND n >= :from ORDER BY n;

-- name: chunk_by_number
SELECT chunk_id FROM temp.mount_chunks WHERE checkpoint_id = :id AND n = :n;
