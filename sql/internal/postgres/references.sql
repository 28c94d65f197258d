-- The foreign keys of a PostgreSQL store (the references of SQLite's schema, each with
-- checkpoint_id; migrations/0001_init.pg.sql says why they are checked here, not
-- declared): every reference of a checkpoint's rows (of every checkpoint when :id is
-- NULL) that finds no row, as the value it holds. Push runs it before it commits a
-- checkpoint, verify too. EXCEPT makes each a set operation (hashed), as fast for a
-- checkpoint just copied, which has no statistics yet, as for any other.

-- name: dangling_references
WITH detail_refs AS (
  SELECT 'file_eventfds' AS child, 'file_id' AS reference, checkpoint_id, file_id AS value FROM file_eventfds WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'epoll_targets', 'file_id', checkpoint_id, file_id FROM epoll_targets WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'inotify_watches', 'file_id', checkpoint_id, file_id FROM inotify_watches WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'file_timerfds', 'file_id', checkpoint_id, file_id FROM file_timerfds WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'file_signalfds', 'file_id', checkpoint_id, file_id FROM file_signalfds WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'file_ttys', 'file_id', checkpoint_id, file_id FROM file_ttys WHERE :id IS NULL OR checkpoint_id = :id
  UNION ALL SELECT 'file_ttys', 'peer_file_id', checkpoint_id, peer_file_id FROM file_ttys WHERE (:id IS NULL OR checkpoint_id = :id) AND peer_file_id IS NOT NULL
)
SELECT 'shared_objects' AS child, 'checkpoint_id' AS reference, 'checkpoints' AS parent, checkpoint_id, checkpoint_id AS value FROM (
  SELECT checkpoint_id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id
  EXCEPT SELECT id FROM checkpoints WHERE :id IS NULL OR id = :id) AS missing
UNION ALL
SELECT 'files', 'id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, id AS value FROM files WHERE (:id IS NULL OR checkpoint_id = :id)
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'files', 'object_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, object_id AS value FROM files WHERE (:id IS NULL OR checkpoint_id = :id) AND object_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'tasks' AS child, 'checkpoint_id' AS reference, 'checkpoints' AS parent, checkpoint_id, checkpoint_id AS value FROM (
  SELECT checkpoint_id FROM tasks WHERE :id IS NULL OR checkpoint_id = :id
  EXCEPT SELECT id FROM checkpoints WHERE :id IS NULL OR id = :id) AS missing
UNION ALL
SELECT 'tasks', 'mm_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, mm_id AS value FROM tasks WHERE (:id IS NULL OR checkpoint_id = :id) AND mm_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'tasks', 'fdtable_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, fdtable_id AS value FROM tasks WHERE (:id IS NULL OR checkpoint_id = :id) AND fdtable_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'tasks', 'fs_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, fs_id AS value FROM tasks WHERE (:id IS NULL OR checkpoint_id = :id) AND fs_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'tasks', 'sighand_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, sighand_id AS value FROM tasks WHERE (:id IS NULL OR checkpoint_id = :id) AND sighand_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'fds', 'fdtable_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, fdtable_id AS value FROM fds WHERE (:id IS NULL OR checkpoint_id = :id) AND fdtable_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'fds', 'file_id', 'files', checkpoint_id, value FROM (
  SELECT checkpoint_id, file_id AS value FROM fds WHERE (:id IS NULL OR checkpoint_id = :id) AND file_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM files WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'maps', 'mm_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, mm_id AS value FROM maps WHERE (:id IS NULL OR checkpoint_id = :id) AND mm_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'sockets', 'object_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, object_id AS value FROM sockets WHERE (:id IS NULL OR checkpoint_id = :id) AND object_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'task_namespaces', 'task_id', 'tasks', checkpoint_id, value FROM (
  SELECT checkpoint_id, task_id AS value FROM task_namespaces WHERE (:id IS NULL OR checkpoint_id = :id) AND task_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM tasks WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'task_namespaces', 'ns_id', 'shared_objects', checkpoint_id, value FROM (
  SELECT checkpoint_id, ns_id AS value FROM task_namespaces WHERE (:id IS NULL OR checkpoint_id = :id) AND ns_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM shared_objects WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'task_rlimits', 'task_id', 'tasks', checkpoint_id, value FROM (
  SELECT checkpoint_id, task_id AS value FROM task_rlimits WHERE (:id IS NULL OR checkpoint_id = :id) AND task_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM tasks WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'criu_images' AS child, 'checkpoint_id' AS reference, 'checkpoints' AS parent, checkpoint_id, checkpoint_id AS value FROM (
  SELECT checkpoint_id FROM criu_images WHERE :id IS NULL OR checkpoint_id = :id
  EXCEPT SELECT id FROM checkpoints WHERE :id IS NULL OR id = :id) AS missing
UNION ALL
SELECT 'criu_image_chunks', 'image_id', 'criu_images', checkpoint_id, value FROM (
  SELECT checkpoint_id, image_id AS value FROM criu_image_chunks WHERE (:id IS NULL OR checkpoint_id = :id) AND image_id IS NOT NULL
  EXCEPT SELECT checkpoint_id, id FROM criu_images WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
SELECT 'criu_page_runs', 'image_id', 'criu_images', checkpoint_id, value FROM (
  SELECT checkpoint_id, image_id AS value FROM criu_page_runs WHERE :id IS NULL OR checkpoint_id = :id
  EXCEPT SELECT checkpoint_id, id FROM criu_images WHERE :id IS NULL OR checkpoint_id = :id) AS missing
UNION ALL
-- the details of anonymous files (0005), which are few: found in one pass over files
SELECT r.child, r.reference, 'files', r.checkpoint_id, r.value
FROM detail_refs r
JOIN (SELECT checkpoint_id, value FROM detail_refs
      EXCEPT SELECT checkpoint_id, id FROM files WHERE :id IS NULL OR checkpoint_id = :id) AS missing
  ON missing.checkpoint_id = r.checkpoint_id AND missing.value = r.value
LIMIT 100;
