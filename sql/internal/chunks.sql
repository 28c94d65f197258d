-- Statements of the content-addressed chunk store (src/store/chunks.ts). Positional
-- parameters on the write path, named ones elsewhere.

-- name: find_chunk
SELECT id FROM criu_chunks WHERE hash = ?;

-- name: insert_chunk
-- Repeated as one multi-row statement by the writer. OR FAIL, as the checkpoint writer's
-- batched inserts (writer.sql): a statement that may abort halfway keeps a journal of
-- every page it changes, here the hash index's random leaves, a few MiB a batch, which
-- SQLite spills to /var/tmp (1.6 GB written for a 1 GiB import). The checkpoint's
-- transaction is rolled back whole on any error.
INSERT OR FAIL INTO criu_chunks (id, hash, size, pack_id, pack_offset) VALUES (?, ?, ?, ?, ?);

-- name: insert_pack
INSERT INTO criu_packs (id, codec, size, data) VALUES (?, ?, ?, ?);

-- name: next_ids
SELECT (SELECT coalesce(max(id), 0) + 1 FROM criu_chunks) AS chunk, (SELECT coalesce(max(id), 0) + 1 FROM criu_packs) AS pack;

-- name: insert_image
INSERT INTO criu_images (checkpoint_id, name, kind, role, head_magic, size, entries) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: finish_image
UPDATE criu_images SET size = ?, entries = ? WHERE id = ?;

-- name: insert_image_chunk
-- Repeated as one multi-row statement by the writer; OR FAIL as insert_chunk.
INSERT OR FAIL INTO criu_image_chunks (image_id, seq, chunk_id) VALUES (?, ?, ?);

-- name: mark_stored
UPDATE criu_images SET role = 'stored' WHERE checkpoint_id = ? AND name = ?;

-- name: checkpoint_images
SELECT id, name, kind, role, head_magic, size, entries FROM criu_images
WHERE checkpoint_id = :checkpoint_id ORDER BY name;

-- name: image_named
SELECT id FROM criu_images WHERE checkpoint_id = ? AND name = ?;

-- name: image_chunk_places
-- Where the bytes of one image are, chunk by chunk, in order: the chunks from seq ? to
-- before seq ?, a window at a time.
SELECT c.pack_id, c.pack_offset, c.size FROM criu_image_chunks ic JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE ic.image_id = ? AND ic.seq >= ? AND ic.seq < ? ORDER BY ic.seq;

-- name: image_chunk_place
-- Where one chunk of an image is, by its place in the image.
SELECT c.pack_id, c.pack_offset, c.size FROM criu_image_chunks ic JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE ic.image_id = ? AND ic.seq = ?;

-- name: chunk_place
SELECT pack_id, pack_offset, size FROM criu_chunks WHERE id = ?;

-- name: pack
SELECT codec, size, data FROM criu_packs WHERE id = ?;

-- name: image_chunk_ids
-- The chunk ids of one image, in order.
SELECT chunk_id FROM criu_image_chunks WHERE image_id = ? ORDER BY seq;

-- name: gc_collect
-- Before a checkpoint is deleted: the chunks its files use.
CREATE TEMP TABLE IF NOT EXISTS criu_gc_chunks (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS criu_gc_packs (id INTEGER PRIMARY KEY);
DELETE FROM temp.criu_gc_chunks;
DELETE FROM temp.criu_gc_packs;
INSERT OR IGNORE INTO temp.criu_gc_chunks (id)
SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id;

-- name: gc_sweep
-- After: those of them no file uses any more, and the packs no chunk lives in.
DELETE FROM temp.criu_gc_chunks WHERE EXISTS (SELECT 1 FROM criu_image_chunks ic WHERE ic.chunk_id = criu_gc_chunks.id);
INSERT OR IGNORE INTO temp.criu_gc_packs (id) SELECT pack_id FROM criu_chunks WHERE id IN (SELECT id FROM temp.criu_gc_chunks);
DELETE FROM criu_chunks WHERE id IN (SELECT id FROM temp.criu_gc_chunks);
DELETE FROM criu_packs WHERE id IN (SELECT id FROM temp.criu_gc_packs) AND NOT EXISTS (SELECT 1 FROM criu_chunks c WHERE c.pack_id = criu_packs.id);
DROP TABLE temp.criu_gc_chunks;
DROP TABLE temp.criu_gc_packs;

-- name: unused_chunks
-- Chunks no file refers to; with :id, none are looked for (a checkpoint uses only chunks files refer to).
SELECT c.id FROM criu_chunks c
WHERE :id IS NULL AND NOT EXISTS (SELECT 1 FROM criu_image_chunks ic WHERE ic.chunk_id = c.id);

-- name: misplaced_chunks
-- Chunks whose bytes lie outside their pack; with :id, of the chunks that checkpoint uses.
SELECT c.id, c.pack_id, c.pack_offset, c.size, p.size AS pack_size FROM criu_chunks c JOIN criu_packs p ON p.id = c.pack_id
WHERE (c.pack_offset + c.size > p.size OR c.pack_offset < 0)
  AND (:id IS NULL OR c.id IN (SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id));

-- name: chunks_to_hash
-- The chunks with their hashes and places, pack by pack, after the chunk (:after_pack,
-- :after_offset), to check that each still holds the bytes it was stored under.
SELECT c.id, c.hash, c.pack_id, c.pack_offset, c.size FROM criu_chunks c
WHERE (c.pack_id, c.pack_offset) > (:after_pack, :after_offset)
  AND (:id IS NULL OR c.id IN (SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id))
ORDER BY c.pack_id, c.pack_offset
LIMIT 4096;

-- name: image_size_mismatches
-- Images whose chunks do not add up to their size.
SELECT i.checkpoint_id, i.name, i.size, coalesce(sum(c.size), 0) AS stored
FROM criu_images i
LEFT JOIN criu_image_chunks ic ON ic.image_id = i.id
LEFT JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE :id IS NULL OR i.checkpoint_id = :id
GROUP BY i.id HAVING i.size <> coalesce(sum(c.size), 0);

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
SELECT count(*) AS chunks, coalesce(sum(c.size), 0) AS chunk_bytes,
       coalesce(sum(k.shared), 0) AS shared_chunks, coalesce(sum(k.shared * c.size), 0) AS shared_bytes
FROM marked k JOIN criu_chunks c ON c.id = k.chunk_id;

-- name: store_pack_bytes
-- What the packs take in the store, and what they decode to.
SELECT count(*) AS packs, coalesce(sum(length(data)), 0) AS stored, coalesce(sum(size), 0) AS decoded FROM criu_packs;

-- name: page_runs
-- The runs of dumped pages of one process of a checkpoint, in address order.
SELECT vaddr, nr_pages, image_id, seq FROM criu_page_runs
WHERE checkpoint_id = ? AND pid = ? ORDER BY vaddr;

-- name: page_pids
-- The processes of a checkpoint with dumped pages.
SELECT DISTINCT pid FROM criu_page_runs WHERE checkpoint_id = ? ORDER BY pid;

-- name: find_chunks
-- Repeated as one statement for many hashes by the workers.
SELECT hash, id FROM criu_chunks WHERE hash IN (?);
