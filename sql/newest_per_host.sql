-- name: newest_per_host
-- description: The newest checkpoint of each host, by when it was taken, with its size: what the fleet store knows of each host now.
-- param: host?  only this host
--
-- For the fleet store (PostgreSQL), where every host pushes its checkpoints; on a local
-- store it is this host's newest. A checkpoint that names no host (an import that did
-- not say) counts under a host of NULL, listed first. uuid names the checkpoint in
-- every store; checkpoint is its id in this one.
WITH ranked AS (
  SELECT c.id, c.uuid, c.host, c.label, c.source, c.started_at,
         row_number() OVER (PARTITION BY c.host ORDER BY c.started_at DESC, c.id DESC) AS nth
  FROM checkpoints c
  WHERE :host IS NULL OR c.host = :host
)
SELECT r.host, r.id AS checkpoint, r.uuid, r.label, r.source, r.started_at,
       (SELECT count(*) FROM tasks t WHERE t.checkpoint_id = r.id AND t.pid = t.tgid) AS processes,
       (SELECT count(*) FROM fds f WHERE f.checkpoint_id = r.id) AS fds
FROM ranked r
WHERE r.nth = 1
ORDER BY r.host NULLS FIRST;
