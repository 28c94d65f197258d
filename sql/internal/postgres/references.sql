-- The foreign keys of a PostgreSQL store (the references of SQLite's schema, each with
-- checkpoint_id; migrations/0001_init.pg.sql says why they are checked here, not
-- declared): every reference of a checkpoint's rows (of every checkpoint when :id is
-- NULL) that finds no row, as the value it holds. Push runs it before it commits a
-- checkpoint, verify too. EXCEPT makes each a set operation (hashed), as fast for a
-- checkpoint just copied, which has no statistics yet, as for any other.

-- name: dangling_references
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
LIMIT 100;
