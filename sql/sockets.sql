-- name: sockets
-- description: Listening and connected sockets with the processes that hold them, listeners first.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only sockets this process holds
-- param: state?  only sockets in this state (LISTEN, ESTABLISHED, ...)
-- param: limit = 100  at most this many sockets; -1 for all
--
-- state is the kernel's sk_state by its TCP_* name, as ss shows it, for every family;
-- a socket neither connected nor listening (TCP_CLOSE) is UNCONNECTED. role is
-- listening (state LISTEN) or connected (ESTABLISHED, a TCP connection in any other
-- state with a remote end, or a socket with a peer: a unix datagram socket connected
-- on a kernel that left it UNCONNECTED). Sockets the source has no details of (no row
-- in sockets) are not listed. holders is pid:fd,fd per process
-- (pid/tid:fd for a thread with an fd table of its own).
WITH listening AS (
  SELECT s.* FROM sockets s
  WHERE s.checkpoint_id = :checkpoint AND s.state = 'LISTEN'
    AND (:state IS NULL OR :state = 'LISTEN')
    AND (:pid IS NULL OR s.object_id IN (SELECT object_id FROM open_fds WHERE checkpoint_id = :checkpoint AND pid = :pid))
  ORDER BY s.object_id
  LIMIT :limit
),
connected AS (
  SELECT s.* FROM sockets s
  WHERE s.checkpoint_id = :checkpoint AND (s.state IS NULL OR s.state <> 'LISTEN')
    AND (s.state = 'ESTABLISHED' OR s.peer_ino <> 0 OR s.remote_port <> 0)
    AND (:state IS NULL OR s.state = :state)
    AND (:pid IS NULL OR s.object_id IN (SELECT object_id FROM open_fds WHERE checkpoint_id = :checkpoint AND pid = :pid))
  ORDER BY s.state, s.object_id
  LIMIT :limit
),
-- each part is read in index order and stops at the limit
chosen AS (
  SELECT * FROM (
    SELECT 'listening' AS role, * FROM listening
    UNION ALL
    SELECT 'connected', * FROM connected
  )
  ORDER BY role = 'connected', state, object_id
  LIMIT :limit
),
-- CROSS JOIN keeps this order: from the few chosen sockets to their fds, never the reverse
holder AS (
  SELECT c.object_id, h.pid, h.tid, h.fd
  FROM chosen c
  CROSS JOIN files f ON f.checkpoint_id = :checkpoint AND f.object_id = c.object_id
  CROSS JOIN fd_holders h ON h.checkpoint_id = :checkpoint AND h.file_id = f.id
),
by_process AS (
  SELECT object_id, pid, tid, group_concat(fd, ',' ORDER BY fd) AS fds FROM holder GROUP BY object_id, pid, tid
),
by_socket AS (
  SELECT object_id, group_concat(pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || fds, ' ' ORDER BY pid, tid) AS holders
  FROM by_process GROUP BY object_id
)
SELECT c.role, c.family, c.sock_type AS type, c.state,
       c.local_addr, c.local_port, c.remote_addr, c.remote_port, c.peer_ino,
       o.key AS socket, b.holders
FROM chosen c
JOIN shared_objects o ON o.id = c.object_id
LEFT JOIN by_socket b ON b.object_id = c.object_id
ORDER BY c.role = 'connected', c.state, c.object_id;
