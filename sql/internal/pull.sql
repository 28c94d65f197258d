-- Statements of `ckptdb pull` (src/store/postgres/pull.ts): on the local SQLite store,
-- and on PostgreSQL the chunks of a checkpoint's CRIU files, which it names by hash.

-- name: local_by_uuid
SELECT id FROM checkpoints WHERE uuid = :uuid;

-- name: insert_checkpoint
-- :id is NULL for a new id of the store's.
INSERT INTO checkpoints (id, label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta, uuid)
VALUES (:id, :label, :source, :host, :kernel, :root_pid, :frozen, :started_at, :finished_at, :meta, :uuid);

-- name: insert_chunk_hash
-- A chunk known by its hash alone, in a scratch store that diff reads (no pack: its bytes are not read).
INSERT OR IGNORE INTO criu_chunks (hash, size, pack_id, pack_offset) VALUES (?, ?, NULL, 0);

-- name: insert_image_chunk
INSERT INTO criu_image_chunks (image_id, seq, chunk_id) VALUES (?, ?, (SELECT id FROM criu_chunks WHERE hash = ?));

-- name: remote_chunks
-- PostgreSQL: the chunks the checkpoint's files are made of, each once, in the order the
-- files first hold them, so that the packs they are written into are read in order.
SELECT k.hash, k.data
FROM (SELECT DISTINCT ON (hash) hash, image_id, seq FROM criu_image_chunks WHERE checkpoint_id = $1 ORDER BY hash, image_id, seq) AS f
JOIN criu_chunks k ON k.hash = f.hash
ORDER BY f.image_id, f.seq;

-- name: remote_chunk_hashes
-- PostgreSQL: the hashes of those chunks, each once, with what it weighs.
SELECT hash, max(size) AS size FROM criu_image_chunks WHERE checkpoint_id = $1 GROUP BY hash;

-- name: remote_image_chunks
-- PostgreSQL: every file's chunks in order.
SELECT image_id, seq, hash FROM criu_image_chunks WHERE checkpoint_id = $1 ORDER BY image_id, seq;
