-- name: pipes
-- description: Pipes and FIFOs with both ends: who holds the read end and who the write end.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only pipes this process holds an end of
-- param: limit = 100  at most this many pipes; -1 for all
--
-- A pipe is an object of kind pipe, named by its key ('pipe:[4711]'). A FIFO (named
-- pipe) is one too: the one pipe every open of it shares, keyed by the FIFO's inode
-- ('fifo:8:1:123456') and named here by its path. An end is an open file on the pipe:
-- read end if opened O_RDONLY, write end if O_WRONLY, both if O_RDWR (a FIFO can be).
-- Each side lists pid:fd,fd per process (pid/tid:fd for a thread with an fd table of
-- its own); an empty side means no process holds that end (a reader waits for EOF, a
-- writer for EPIPE). An end whose flags the source did not record is on neither side.
WITH chosen AS (
  SELECT o.id FROM shared_objects o
  WHERE o.checkpoint_id = :checkpoint AND o.kind = 'pipe'
    AND (:pid IS NULL OR o.id IN (SELECT object_id FROM open_fds WHERE checkpoint_id = :checkpoint AND pid = :pid))
  ORDER BY o.id
  LIMIT :limit
),
-- CROSS JOIN keeps this order: from the few chosen pipes to their fds, never the reverse
ends AS (
  SELECT c.id AS pipe_id, h.pid, h.tid, h.fd,
         f.flags & 3 IN (0, 2) AS reads,
         f.flags & 3 IN (1, 2) AS writes
  FROM chosen c
  CROSS JOIN files f ON f.checkpoint_id = :checkpoint AND f.object_id = c.id
  CROSS JOIN fd_holders h ON h.checkpoint_id = :checkpoint AND h.file_id = f.id
),
by_process AS (
  SELECT pipe_id, pid, tid,
         group_concat(CASE WHEN reads THEN fd END, ',' ORDER BY fd) AS read_fds,
         group_concat(CASE WHEN writes THEN fd END, ',' ORDER BY fd) AS write_fds
  FROM ends GROUP BY pipe_id, pid, tid
),
by_pipe AS (
  SELECT pipe_id,
         group_concat(CASE WHEN read_fds IS NOT NULL THEN pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || read_fds END, ' ' ORDER BY pid, tid) AS read_end,
         group_concat(CASE WHEN write_fds IS NOT NULL THEN pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || write_fds END, ' ' ORDER BY pid, tid) AS write_end
  FROM by_process GROUP BY pipe_id
)
SELECT c.id AS pipe_id,
       coalesce((SELECT min(f.path) FROM files f WHERE f.checkpoint_id = :checkpoint AND f.object_id = c.id AND f.type = 'fifo'), o.key) AS pipe,
       b.read_end, b.write_end
FROM chosen c
JOIN shared_objects o ON o.id = c.id
LEFT JOIN by_pipe b ON b.pipe_id = c.id
ORDER BY c.id;
