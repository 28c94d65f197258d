-- name: shared_files
-- description: Open files that more than one fd points at (after dup or fork), most shared first, with their holders.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only files this process holds
-- param: limit = 20  at most this many files; -1 for all
-- text: flags_text(flags)
--
-- A PostgreSQL store runs sql/postgres/shared_files.sql: the same rows, every join on checkpoint_id too.
--
-- fds is the file's refcount, processes how many processes hold it, holders each
-- of those processes with its fds on the file: `pid:fd,fd pid:fd`, or pid/tid:fd for
-- the fds of a thread that has an fd table of its own. inferred is 1 where the
-- sharing was guessed from evidence (same inode, position and flags) because the
-- kernel could not be asked (kcmp).
WITH chosen AS (
  SELECT o.id, o.refcount, o.inferred
  FROM shared_objects o
  WHERE o.checkpoint_id = :checkpoint AND o.kind = 'file' AND o.refcount > 1
    AND (:pid IS NULL OR o.id IN (SELECT file_id FROM open_fds WHERE checkpoint_id = :checkpoint AND pid = :pid))
  ORDER BY o.refcount DESC, o.id
  LIMIT :limit
),
-- CROSS JOIN keeps this order: from the few chosen files to their fds, never the reverse
holder AS (
  SELECT h.file_id, h.pid, h.tid, h.fd
  FROM chosen c
  CROSS JOIN fd_holders h ON h.checkpoint_id = :checkpoint AND h.file_id = c.id
),
by_process AS (
  SELECT file_id, pid, tid, group_concat(fd, ',' ORDER BY fd) AS fds FROM holder GROUP BY file_id, pid, tid
),
by_file AS (
  SELECT file_id, count(DISTINCT pid) AS processes,
         group_concat(pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || fds, ' ' ORDER BY pid, tid) AS holders
  FROM by_process GROUP BY file_id
)
SELECT c.id AS file_id, f.type, f.path, f.pos, f.flags, c.refcount AS fds, b.processes, b.holders, c.inferred
FROM chosen c
CROSS JOIN by_file b ON b.file_id = c.id
JOIN files f ON f.id = c.id
ORDER BY c.refcount DESC, c.id;
