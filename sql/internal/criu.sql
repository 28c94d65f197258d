-- Statements of the CRIU importer and exporter (src/formats/criu/). Positional
-- parameters on the import's hot path, named ones elsewhere.

-- name: file_by_id
-- A file row written earlier in this import, by its row id (the writer inserts the
-- file's shared_objects row later, in a batch): cwd, root, exe and file-backed maps
-- take its path, a FIFO all of its regular-file entry.
SELECT path, deleted, inode, pos, flags, mode, mnt_id, dev FROM files WHERE id = ?;

-- name: checkpoint_files_by_role
-- What a checkpoint keeps of CRIU, per role: files and their bytes.
SELECT role, count(*) AS files, sum(size) AS bytes
FROM criu_images WHERE checkpoint_id = :checkpoint_id
GROUP BY role ORDER BY role;

-- name: export_tasks
-- Every task of a checkpoint with the keys of the objects it refers to; export reads
-- CRIU's ids back from the keys.
SELECT t.pid, t.tgid, t.ppid, t.pgid, t.sid, t.state, t.comm,
       t.uid, t.euid, t.suid, t.fsuid, t.gid, t.egid, t.sgid, t.fsgid,
       t.sig_blocked, t.attrs,
       mm.key AS mm_key, ft.key AS fdtable_key, fs.key AS fs_key, sh.key AS sighand_key
FROM tasks t
LEFT JOIN shared_objects mm ON mm.id = t.mm_id
LEFT JOIN shared_objects ft ON ft.id = t.fdtable_id
LEFT JOIN shared_objects fs ON fs.id = t.fs_id
LEFT JOIN shared_objects sh ON sh.id = t.sighand_id
WHERE t.checkpoint_id = :checkpoint_id
ORDER BY t.id;

-- name: export_namespaces
SELECT t.pid, n.type, o.key
FROM task_namespaces n JOIN tasks t ON t.id = n.task_id JOIN shared_objects o ON o.id = n.ns_id
WHERE n.checkpoint_id = :checkpoint_id;

-- name: export_rlimits
SELECT t.pid, r.resource, r.soft, r.hard
FROM task_rlimits r JOIN tasks t ON t.id = r.task_id
WHERE r.checkpoint_id = :checkpoint_id;

-- name: export_files
-- Open files with the details of the socket behind them, if any.
SELECT o.key, f.type, f.path, f.pos, f.flags, f.mode, f.mnt_id,
       s.object_id AS socket_object, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino
FROM files f
JOIN shared_objects o ON o.id = f.id
LEFT JOIN sockets s ON s.object_id = f.object_id
WHERE f.checkpoint_id = :checkpoint_id
ORDER BY f.id;

-- name: export_fds
SELECT ft.key AS fdtable_key, d.fd, d.cloexec, fo.key AS file_key
FROM fds d
JOIN shared_objects ft ON ft.id = d.fdtable_id
JOIN shared_objects fo ON fo.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id
ORDER BY d.fdtable_id, d.fd;

-- name: export_maps
SELECT mo.key AS mm_key, m.start_addr, m.end_addr, m.perms, m.pgoff
FROM maps m JOIN shared_objects mo ON mo.id = m.mm_id
WHERE m.checkpoint_id = :checkpoint_id
ORDER BY m.id;

-- name: set_label_root_and_host
UPDATE checkpoints SET label = ?, root_pid = ?, host = ?, kernel = ? WHERE id = ?;

-- The kept files of a checkpoint as records of the restore image (imageRecords.ts):
-- every distinct chunk numbered 1, 2, 3 ... in the order the image first uses it
-- (files by name, chunks by place), in a TEMP table of the exporting connection.

-- name: create_chunk_order
DROP TABLE IF EXISTS temp.criu_chunk_order;
CREATE TEMP TABLE criu_chunk_order (n INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL UNIQUE);

-- name: number_chunks
INSERT OR IGNORE INTO temp.criu_chunk_order (chunk_id)
SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id
WHERE i.checkpoint_id = :checkpoint_id
ORDER BY i.name, ic.seq;

-- name: image_chunk_numbers
-- The chunks of one image in order, by number, with their store ids when the number is
-- :next or above (a chunk the image has not written yet).
SELECT o.n, CASE WHEN o.n >= :next THEN o.chunk_id END AS chunk_id
FROM criu_image_chunks ic
JOIN temp.criu_chunk_order o ON o.chunk_id = ic.chunk_id
WHERE ic.image_id = :image_id
ORDER BY ic.seq;

-- name: drop_chunk_order
DROP TABLE IF EXISTS temp.criu_chunk_order;

-- name: export_eventfds
SELECT o.key AS file_key, d.counter FROM file_eventfds d JOIN shared_objects o ON o.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id;

-- name: export_epoll_targets
SELECT o.key AS file_key, d.seq, d.tfd, d.events, d.data, d.inode, d.dev, d.pos FROM epoll_targets d JOIN shared_objects o ON o.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id ORDER BY d.file_id, d.seq;

-- name: export_inotify_watches
SELECT o.key AS file_key, d.wd, d.inode, d.dev, d.mask, d.ignored_mask FROM inotify_watches d JOIN shared_objects o ON o.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id ORDER BY d.file_id, d.wd;

-- name: export_timerfds
SELECT o.key AS file_key, d.clockid, d.ticks, d.settime_flags, d.interval_ns, d.value_ns FROM file_timerfds d JOIN shared_objects o ON o.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id;

-- name: export_signalfds
SELECT o.key AS file_key, d.sigmask FROM file_signalfds d JOIN shared_objects o ON o.id = d.file_id
WHERE d.checkpoint_id = :checkpoint_id;

-- name: insert_page_run
INSERT INTO criu_page_runs (checkpoint_id, pid, vaddr, nr_pages, image_id, seq) VALUES (?, ?, ?, ?, ?, ?);
