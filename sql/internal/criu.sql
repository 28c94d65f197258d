-- Statements of the CRIU importer and exporter (src/formats/criu/). Positional
-- parameters on the import's hot path, named ones elsewhere.

-- name: insert_chunk
INSERT OR IGNORE INTO criu_chunks (hash, data) VALUES (?, ?);

-- name: find_chunk
SELECT id FROM criu_chunks WHERE hash = ?;

-- name: insert_image
INSERT INTO criu_images (checkpoint_id, name, kind, role, head_magic, size, entries) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: finish_image
UPDATE criu_images SET size = ?, entries = ? WHERE id = ?;

-- name: insert_image_chunk
INSERT INTO criu_image_chunks (image_id, seq, chunk_id) VALUES (?, ?, ?);

-- name: image_chunks
-- The bytes of one image, chunk by chunk, in order.
SELECT c.data FROM criu_image_chunks ic JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE ic.image_id = :image_id ORDER BY ic.seq;

-- name: chunk_data
SELECT data FROM criu_chunks WHERE id = ?;

-- name: chunk_size
SELECT length(data) FROM criu_chunks WHERE id = ?;

-- name: image_chunk_range
-- The chunks of an image from one place to another, in order.
SELECT c.data FROM criu_image_chunks ic JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE ic.image_id = ? AND ic.seq BETWEEN ? AND ? ORDER BY ic.seq;

-- name: checkpoint_images
SELECT id, name, kind, role, head_magic, size, entries FROM criu_images
WHERE checkpoint_id = :checkpoint_id ORDER BY name;

-- name: file_by_id
-- A file row written earlier in this import, by its row id (the writer inserts the
-- file's shared_objects row later, in a batch): cwd, root, exe and file-backed maps
-- take its path, a FIFO all of its regular-file entry.
SELECT path, pos, flags, mode, mnt_id FROM files WHERE id = ?;

-- name: chunk_refcount_mismatches
-- Chunks whose refcount differs from the image chunks pointing at them; with :id, of
-- the chunks that checkpoint uses.
SELECT c.id, c.refcount, count(ic.chunk_id) AS counted
FROM criu_chunks c LEFT JOIN criu_image_chunks ic ON ic.chunk_id = c.id
WHERE :id IS NULL OR c.id IN (SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id)
GROUP BY c.id HAVING c.refcount <> count(ic.chunk_id);

-- name: image_size_mismatches
-- Images whose chunks do not add up to their size.
SELECT i.checkpoint_id, i.name, i.size, coalesce(sum(length(c.data)), 0) AS stored
FROM criu_images i
LEFT JOIN criu_image_chunks ic ON ic.image_id = i.id
LEFT JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE :id IS NULL OR i.checkpoint_id = :id
GROUP BY i.id HAVING i.size <> coalesce(sum(length(c.data)), 0);

-- name: chunks_to_hash
-- Every chunk with its hash, to check that it still holds the bytes it was stored under.
SELECT c.id, c.hash, c.data FROM criu_chunks c
WHERE :id IS NULL OR c.id IN (SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id);

-- name: checkpoint_files_by_role
-- What a checkpoint keeps of CRIU, per role: files and their bytes.
SELECT role, count(*) AS files, sum(size) AS bytes
FROM criu_images WHERE checkpoint_id = :checkpoint_id
GROUP BY role ORDER BY role;

-- name: checkpoint_chunks
-- The distinct chunks of a checkpoint's files, and those of them that files of other
-- checkpoints hold too: what deleting it would not free.
WITH mine AS (
  SELECT DISTINCT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id
  WHERE i.checkpoint_id = :checkpoint_id
),
marked AS (
  SELECT m.chunk_id, EXISTS (
    SELECT 1 FROM criu_image_chunks ic JOIN criu_images i ON i.id = ic.image_id
    WHERE ic.chunk_id = m.chunk_id AND i.checkpoint_id <> :checkpoint_id
  ) AS shared
  FROM mine m
)
SELECT count(*) AS chunks, coalesce(sum(length(c.data)), 0) AS chunk_bytes,
       coalesce(sum(k.shared), 0) AS shared_chunks, coalesce(sum(k.shared * length(c.data)), 0) AS shared_bytes
FROM marked k JOIN criu_chunks c ON c.id = k.chunk_id;

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

-- name: mark_stored
UPDATE criu_images SET role = 'stored' WHERE checkpoint_id = ? AND name = ?;

-- name: image_chunk
-- One chunk of an image of the checkpoint being written, by its place in the image.
SELECT c.data FROM criu_images i
JOIN criu_image_chunks ic ON ic.image_id = i.id
JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE i.checkpoint_id = ? AND i.name = ? AND ic.seq = ?;

-- name: set_label_and_root
UPDATE checkpoints SET label = ?, root_pid = ? WHERE id = ?;

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
-- The chunks of one image in order, by number, with their bytes when the number is
-- :next or above (a chunk the image has not written yet).
SELECT o.n, CASE WHEN o.n >= :next THEN c.data END AS data
FROM criu_image_chunks ic
JOIN temp.criu_chunk_order o ON o.chunk_id = ic.chunk_id
JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE ic.image_id = :image_id
ORDER BY ic.seq;

-- name: drop_chunk_order
DROP TABLE IF EXISTS temp.criu_chunk_order;
