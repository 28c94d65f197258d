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

-- name: checkpoint_images
SELECT id, name, kind, role, head_magic, size, entries FROM criu_images
WHERE checkpoint_id = :checkpoint_id ORDER BY name;

-- name: file_path_by_key
SELECT f.path FROM shared_objects o JOIN files f ON f.id = o.id
WHERE o.checkpoint_id = ? AND o.kind = 'file' AND o.key = ?;

-- name: storage_totals
-- Bytes of images the store holds for a checkpoint, and bytes its chunks take once.
SELECT coalesce(sum(i.size), 0) AS image_bytes,
       (SELECT coalesce(sum(length(c.data)), 0) FROM criu_chunks c
         WHERE c.id IN (SELECT ic.chunk_id FROM criu_image_chunks ic JOIN criu_images i2 ON i2.id = ic.image_id
                        WHERE i2.checkpoint_id = :checkpoint_id)) AS chunk_bytes
FROM criu_images i WHERE i.checkpoint_id = :checkpoint_id;

-- name: chunk_refcount_mismatches
-- Chunks whose refcount differs from the image chunks pointing at them.
SELECT c.id, c.refcount, count(ic.chunk_id) AS counted
FROM criu_chunks c LEFT JOIN criu_image_chunks ic ON ic.chunk_id = c.id
GROUP BY c.id HAVING c.refcount <> count(ic.chunk_id);
