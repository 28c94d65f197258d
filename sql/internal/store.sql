-- Statements of the store itself (src/store/): listing, deleting and verifying
-- checkpoints. Named parameters.

-- name: list_checkpoints
SELECT c.id, c.label, c.source, c.host, c.root_pid, c.frozen, c.started_at, c.finished_at,
       (SELECT count(*) FROM tasks t WHERE t.checkpoint_id = c.id) AS tasks,
       (SELECT count(*) FROM fds f WHERE f.checkpoint_id = c.id) AS fds
FROM checkpoints c
WHERE :host IS NULL OR c.host = :host
ORDER BY c.id;

-- name: newest_checkpoint
-- The checkpoint that came into the store last (of a host, with :host).
SELECT max(id) AS id FROM checkpoints WHERE :host IS NULL OR host = :host;

-- name: checkpoint_of_host
SELECT id, host FROM checkpoints WHERE id = :id;

-- name: get_checkpoint
SELECT * FROM checkpoints WHERE id = :id;

-- name: count_rows
SELECT 'tasks' AS kind, count(*) AS n FROM tasks WHERE checkpoint_id = :id
UNION ALL SELECT 'processes', count(*) FROM tasks WHERE checkpoint_id = :id AND pid = tgid
UNION ALL SELECT 'fds', count(*) FROM fds WHERE checkpoint_id = :id
UNION ALL SELECT 'files', count(*) FROM files WHERE checkpoint_id = :id
UNION ALL SELECT 'shared_objects', count(*) FROM shared_objects WHERE checkpoint_id = :id
UNION ALL SELECT 'maps', count(*) FROM maps WHERE checkpoint_id = :id
UNION ALL SELECT 'sockets', count(*) FROM sockets WHERE checkpoint_id = :id;

-- name: count_objects_by_kind
SELECT kind, count(*) AS n, sum(refcount) AS refs, sum(CASE WHEN refcount > 1 THEN 1 ELSE 0 END) AS shared
FROM shared_objects WHERE checkpoint_id = :id
GROUP BY kind ORDER BY kind;

-- name: count_states
-- Tasks by their state letter as stored (for a frozen capture: the state before the freeze).
SELECT state, count(*) AS tasks FROM tasks WHERE checkpoint_id = :id GROUP BY state ORDER BY tasks DESC, state;

-- name: delete_checkpoint
-- Every row of the checkpoint, run with foreign key checks off (0007_layout): children
-- before the rows they refer to, so that a store is never left with a dangling one.
DELETE FROM file_eventfds WHERE checkpoint_id = :id;
DELETE FROM epoll_targets WHERE checkpoint_id = :id;
DELETE FROM inotify_watches WHERE checkpoint_id = :id;
DELETE FROM file_timerfds WHERE checkpoint_id = :id;
DELETE FROM file_signalfds WHERE checkpoint_id = :id;
DELETE FROM file_ttys WHERE checkpoint_id = :id;
DELETE FROM task_rlimits WHERE checkpoint_id = :id;
DELETE FROM task_namespaces WHERE checkpoint_id = :id;
DELETE FROM sockets WHERE checkpoint_id = :id;
DELETE FROM maps WHERE checkpoint_id = :id;
DELETE FROM fds WHERE checkpoint_id = :id;
DELETE FROM tasks WHERE checkpoint_id = :id;
DELETE FROM files WHERE checkpoint_id = :id;
DELETE FROM shared_objects WHERE checkpoint_id = :id;
DELETE FROM criu_page_runs WHERE checkpoint_id = :id;
DELETE FROM criu_image_chunks WHERE image_id IN (SELECT id FROM criu_images WHERE checkpoint_id = :id);
DELETE FROM criu_images WHERE checkpoint_id = :id;
DELETE FROM checkpoints WHERE id = :id;

-- name: refcount_mismatches
-- Every object whose stored refcount differs from the references counted in object_refs.
-- Joined on checkpoint_id too: in PostgreSQL an id is unique only inside its checkpoint.
SELECT o.checkpoint_id, o.id, o.kind, o.key, o.refcount, coalesce(r.n, 0) AS counted
FROM shared_objects o
LEFT JOIN (SELECT checkpoint_id, object_id, count(*) AS n FROM object_refs GROUP BY checkpoint_id, object_id) r
  ON r.checkpoint_id = o.checkpoint_id AND r.object_id = o.id
WHERE o.refcount <> coalesce(r.n, 0)
  AND (:id IS NULL OR o.checkpoint_id = :id)
ORDER BY o.checkpoint_id, o.id;

-- name: cross_checkpoint_refs
-- References that point into another checkpoint than the row's own.
SELECT r.checkpoint_id, r.ref_kind, r.ref_id, r.object_id, o.checkpoint_id AS object_checkpoint
FROM object_refs r JOIN shared_objects o ON o.id = r.object_id
WHERE o.checkpoint_id <> r.checkpoint_id
  AND (:id IS NULL OR r.checkpoint_id = :id);

-- name: files_without_object
-- A file row must be a shared object of kind 'file' in the same checkpoint.
SELECT f.checkpoint_id, f.id
FROM files f LEFT JOIN shared_objects o ON o.checkpoint_id = f.checkpoint_id AND o.id = f.id
WHERE (o.id IS NULL OR o.kind <> 'file')
  AND (:id IS NULL OR f.checkpoint_id = :id);
