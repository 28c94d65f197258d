-- Statements of `ckptdb pull` (src/store/postgres/pull.ts): on the local SQLite store,
-- and on PostgreSQL the chunks of a checkpoint's CRIU files, which it names by hash.

-- name: local_by_uuid
SELECT id FROM checkpoints WHERE uuid = :uuid;

-- name: insert_checkpoint
-- :id is NULL for a new id of the store's.
INSERT INTO checkpoints (id, label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta, uuid)
VALUES (:id, :label, :source, :host, :kernel, :root_pid, :frozen, :started_at, :finished_at, :meta, :uuid);

-- name: insert_chunk
INSERT OR IGNORE INTO criu_chunks (hash, data) VALUES (?, ?);

-- name: insert_image_chunk
INSERT INTO criu_image_chunks (image_id, seq, chunk_id) VALUES (?, ?, (SELECT id FROM criu_chunks WHERE hash = ?));

-- name: remote_chunks
-- PostgreSQL: the chunks the checkpoint's files are made of, each once.
SELECT k.hash, k.data FROM criu_chunks k
WHERE k.hash IN (SELECT ic.hash FROM criu_image_chunks ic WHERE ic.checkpoint_id = $1);

-- name: remote_image_chunks
-- PostgreSQL: every file's chunks in order.
SELECT image_id, seq, hash FROM criu_image_chunks WHERE checkpoint_id = $1 ORDER BY image_id, seq;
