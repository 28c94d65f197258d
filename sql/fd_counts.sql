-- name: fd_counts
-- description: How many fds each process holds, largest first.
-- param: checkpoint = newest  the checkpoint to read
-- param: limit = 50  at most this many processes; -1 for all
--
-- A PostgreSQL store runs sql/postgres/fd_counts.sql: the same rows, every join on checkpoint_id too.
--
-- fds counts the fds of every fd table the process's threads hold (usually one,
-- shared by all threads); threads counts its tasks. Each count is one range of the
-- fds (checkpoint_id, fdtable_id, fd) index, so this reads no fd rows. When the source could not
-- list an fd table (permission), fds is null, not 0, and unreadable says why; those
-- processes come last.
WITH per_table AS MATERIALIZED (
  SELECT h.pid, h.tid, (SELECT count(*) FROM fds d WHERE d.checkpoint_id = h.checkpoint_id AND d.fdtable_id = h.fdtable_id) AS fds
  FROM fdtable_holders h
  WHERE h.checkpoint_id = :checkpoint
),
-- a table that could not be listed has no fds: only for those is the task read
checked AS (
  SELECT c.pid, c.fds,
         CASE WHEN c.fds = 0 THEN (
           SELECT json_extract(t.unreadable, '$.fds') FROM tasks t WHERE t.checkpoint_id = :checkpoint AND t.pid = c.tid)
         END AS unreadable
  FROM per_table c
),
per_process AS (
  -- one unreadable table makes the count unknown, not smaller
  SELECT pid, CASE WHEN count(unreadable) = 0 THEN sum(fds) END AS fds, max(unreadable) AS unreadable
  FROM checked
  GROUP BY pid
  ORDER BY fds DESC, pid
  LIMIT :limit
)
SELECT c.pid, p.comm, c.fds, p.threads, p.command, c.unreadable
FROM per_process c
LEFT JOIN processes p ON p.checkpoint_id = :checkpoint AND p.pid = c.pid
ORDER BY c.fds DESC, c.pid;
