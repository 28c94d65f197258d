-- name: shared_tasks
-- description: Tasks sharing an address space or fd table: threads, and processes made with CLONE_VM or CLONE_FILES.
-- param: checkpoint = newest  the checkpoint to read
-- param: kind?  mm (address space), fdtable, fs or sighand; default: mm and fdtable
-- param: pid?  only objects this process's tasks use
-- param: limit = 100  at most this many objects; -1 for all
--
-- One row per shared object with more than one task on it. processes above 1 means
-- sharing between processes (vfork, CLONE_VM or CLONE_FILES without CLONE_THREAD),
-- not just threads of one process. holders lists pid/tid,tid per process. inferred
-- is 1 where the sharing was guessed (threads of one process share) because the
-- kernel could not be asked (kcmp).
WITH chosen AS (
  SELECT o.id, o.kind, o.key, o.refcount, o.inferred
  FROM shared_objects o
  -- the IN list is two constants either way, so both are index ranges
  WHERE o.checkpoint_id = :checkpoint
    AND o.kind IN (coalesce(:kind, 'mm'), coalesce(:kind, 'fdtable'))
    AND o.refcount > 1
    AND (:pid IS NULL OR o.id IN (
      SELECT CASE o.kind WHEN 'mm' THEN t.mm_id WHEN 'fdtable' THEN t.fdtable_id
                         WHEN 'fs' THEN t.fs_id WHEN 'sighand' THEN t.sighand_id END
      FROM tasks t WHERE t.checkpoint_id = :checkpoint AND t.tgid = :pid))
  ORDER BY o.refcount DESC, o.id
  LIMIT coalesce(nullif(:limit, -1), 9223372036854775807)
),
users AS (
  SELECT c.id, t.tgid, t.pid
  FROM chosen c
  CROSS JOIN tasks t
  WHERE (t.checkpoint_id = :checkpoint AND t.mm_id = c.id)
     OR (t.checkpoint_id = :checkpoint AND t.fdtable_id = c.id)
     OR (t.checkpoint_id = :checkpoint AND t.fs_id = c.id)
     OR (t.checkpoint_id = :checkpoint AND t.sighand_id = c.id)
),
by_process AS (
  SELECT id, tgid, string_agg(CAST(pid AS TEXT), ',' ORDER BY pid) AS tids FROM users GROUP BY id, tgid
),
by_object AS (
  SELECT id, count(*) AS processes, string_agg(tgid || '/' || tids, ' ' ORDER BY tgid) AS holders
  FROM by_process GROUP BY id
)
SELECT c.kind, c.key, c.refcount AS tasks, b.processes, b.holders, c.inferred, c.id AS object_id
FROM chosen c
CROSS JOIN by_object b
WHERE b.id = c.id
ORDER BY c.refcount DESC, c.id;
