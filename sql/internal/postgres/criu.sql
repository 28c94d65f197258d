-- The statements of sql/internal/criu.sql that read chunks, in the form of a PostgreSQL
-- store, which names chunks by hash and may lack the bytes of memory pages that stayed
-- on their host (migrations/0003_criu.pg.sql): what a chunk weighs comes from the image
-- chunks, which always list it.

-- name: checkpoint_chunks
WITH mine AS (
  SELECT ic.hash, max(ic.size) AS size FROM criu_image_chunks ic
  WHERE ic.checkpoint_id = :checkpoint_id
  GROUP BY ic.hash
),
marked AS (
  SELECT m.hash, m.size, EXISTS (
    SELECT 1 FROM criu_image_chunks ic WHERE ic.hash = m.hash AND ic.checkpoint_id <> :checkpoint_id
  ) AS shared
  FROM mine m
)
SELECT count(*) AS chunks, coalesce(sum(size), 0) AS chunk_bytes,
       count(*) FILTER (WHERE shared) AS shared_chunks, coalesce(sum(size) FILTER (WHERE shared), 0) AS shared_bytes
FROM marked;

-- name: image_size_mismatches
-- Images whose chunks do not add up to their size.
SELECT i.checkpoint_id, i.name, i.size, coalesce(sum(ic.size), 0) AS stored
FROM criu_images i
LEFT JOIN criu_image_chunks ic ON ic.checkpoint_id = i.checkpoint_id AND ic.image_id = i.id
WHERE :id IS NULL OR i.checkpoint_id = :id
GROUP BY i.checkpoint_id, i.id, i.name, i.size
HAVING i.size <> coalesce(sum(ic.size), 0)
ORDER BY i.checkpoint_id, i.name;

-- name: chunk_hash_mismatches
-- Chunks that no longer hold the bytes their SHA-256 names, or that are not as long as
-- the image chunks say; computed in the server, so no chunk crosses the network.
SELECT k.hash
FROM criu_chunks k
WHERE (sha256(k.data) <> k.hash
       OR EXISTS (SELECT 1 FROM criu_image_chunks ic WHERE ic.hash = k.hash AND ic.size <> length(k.data)))
  AND (:id IS NULL OR k.hash IN (SELECT hash FROM criu_image_chunks WHERE checkpoint_id = :id))
ORDER BY k.hash;
