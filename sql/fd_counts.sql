-- name: fd_counts
-- description: How many fds each process holds, largest first.
-- param: checkpoint = newest  the checkpoint to read
-- param: limit = 50  at most this many processes; -1 for all
--
-- fds counts the fds of every fd table the process's threads hold (usually one,
-- shared by all threads); threads counts its tasks. Each count is one range of the
-- fds (fdtable_id, fd) index, so this reads no fd rows.
WITH per_table AS MATERIALIZED (
  SELECT h.pid, (SELECT count(*) FROM fds d WHERE d.fdtable_id = h.fdtable_id) AS fds
  FROM fdtable_holders h
  WHERE h.checkpoint_id = :checkpoint
),
per_process AS (
  SELECT pid, sum(fds) AS fds FROM per_table
  GROUP BY pid
  ORDER BY fds DESC, pid
  LIMIT :limit
)
SELECT c.pid, p.comm, c.fds, p.threads, p.command
FROM per_process c
LEFT JOIN processes p ON p.checkpoint_id = :checkpoint AND p.pid = c.pid
ORDER BY c.fds DESC, c.pid;
