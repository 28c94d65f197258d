-- Statements of the graph of a checkpoint (src/query/graph/): the processes, and every
-- kernel object through which two of them are connected, one row per holding fd or
-- task. Named parameter :id, the checkpoint. src/query/graph/build.ts turns the rows
-- into nodes and edges.

-- name: processes
-- Every process with its main thread's start time (what identifies it across checkpoints).
SELECT p.pid, p.ppid, p.comm, p.threads, p.command, p.state, p.start_time
FROM processes p
WHERE p.checkpoint_id = :id
ORDER BY p.pid;

-- name: pipe_ends
-- Every fd on a pipe or FIFO, with which end it is (read if opened O_RDONLY, write if
-- O_WRONLY, both if O_RDWR). path is the FIFO's path, null for a pipe.
SELECT o.id AS object_id, o.key, CASE WHEN f.type = 'fifo' THEN f.path END AS path,
       h.pid, h.fd, f.flags & 3 IN (0, 2) AS reads, f.flags & 3 IN (1, 2) AS writes
FROM shared_objects o
CROSS JOIN files f ON f.checkpoint_id = o.checkpoint_id AND f.object_id = o.id
CROSS JOIN fd_holders h ON h.checkpoint_id = o.checkpoint_id AND h.file_id = f.id
WHERE o.checkpoint_id = :id AND o.kind = 'pipe'
ORDER BY o.id, h.pid, h.fd;

-- name: unix_peers
-- Both ends of every connected pair of unix sockets, each end with the fds holding it;
-- a pair once (the end with the lower object id first).
SELECT a.object_id AS a_id, b.id AS b_id, ka.key AS a_key, b.key AS b_key, ha.pid AS a_pid, ha.fd AS a_fd, hb.pid AS b_pid, hb.fd AS b_fd
FROM sockets a
JOIN shared_objects ka ON ka.id = a.object_id
JOIN shared_objects b ON b.checkpoint_id = a.checkpoint_id AND b.kind = 'socket' AND b.key = 'socket:[' || a.peer_ino || ']'
JOIN files fa ON fa.checkpoint_id = a.checkpoint_id AND fa.object_id = a.object_id
JOIN fd_holders ha ON ha.checkpoint_id = a.checkpoint_id AND ha.file_id = fa.id
JOIN files fb ON fb.checkpoint_id = a.checkpoint_id AND fb.object_id = b.id
JOIN fd_holders hb ON hb.checkpoint_id = a.checkpoint_id AND hb.file_id = fb.id
WHERE a.checkpoint_id = :id AND a.family = 'unix' AND a.peer_ino > 0 AND a.object_id < b.id
ORDER BY a.object_id, ha.pid, ha.fd, hb.pid, hb.fd;

-- name: tcp_pairs
-- Both ends of every TCP connection whose two sockets are in the checkpoint: one's
-- local address and port are the other's remote ones. A pair once. The connected
-- sockets are gathered first, so that the match is a lookup (an automatic index),
-- not a scan of every socket per socket.
WITH connected AS MATERIALIZED (
  SELECT object_id, family, local_addr, local_port, remote_addr, remote_port
  FROM sockets
  WHERE checkpoint_id = :id AND family IN ('inet', 'inet6') AND sock_type = 'stream' AND remote_port > 0
)
SELECT a.object_id AS a_id, b.object_id AS b_id, ka.key AS a_key, kb.key AS b_key,
       a.local_addr AS a_addr, a.local_port AS a_port, b.local_addr AS b_addr, b.local_port AS b_port,
       ha.pid AS a_pid, ha.fd AS a_fd, hb.pid AS b_pid, hb.fd AS b_fd
FROM connected a
JOIN connected b ON b.local_addr = a.remote_addr AND b.local_port = a.remote_port
  AND b.remote_addr = a.local_addr AND b.remote_port = a.local_port AND b.family = a.family
JOIN shared_objects ka ON ka.id = a.object_id
JOIN shared_objects kb ON kb.id = b.object_id
JOIN files fa ON fa.checkpoint_id = :id AND fa.object_id = a.object_id
JOIN fd_holders ha ON ha.checkpoint_id = :id AND ha.file_id = fa.id
JOIN files fb ON fb.checkpoint_id = :id AND fb.object_id = b.object_id
JOIN fd_holders hb ON hb.checkpoint_id = :id AND hb.file_id = fb.id
WHERE a.object_id < b.object_id
ORDER BY a.object_id, ha.pid, ha.fd, hb.pid, hb.fd;

-- name: shared_files
-- Open files (not pipes or sockets, which connect by their own rows) that fds of more
-- than one process point at, with every fd on them.
SELECT o.id AS object_id, o.key, f.type, f.path, h.pid, h.fd
FROM shared_objects o
CROSS JOIN files f ON f.id = o.id
CROSS JOIN fd_holders h ON h.checkpoint_id = o.checkpoint_id AND h.file_id = o.id
WHERE o.checkpoint_id = :id AND o.kind = 'file' AND o.refcount > 1
  AND f.type NOT IN ('pipe', 'fifo', 'socket')
  AND (SELECT count(DISTINCT x.pid) FROM fd_holders x WHERE x.checkpoint_id = o.checkpoint_id AND x.file_id = o.id) > 1
ORDER BY o.id, h.pid, h.fd;

-- name: shared_tasks
-- Address spaces and fd tables that tasks of more than one process use (vfork,
-- CLONE_VM or CLONE_FILES without CLONE_THREAD), one row per process on them.
SELECT o.id AS object_id, o.kind, o.key, t.tgid AS pid
FROM shared_objects o
CROSS JOIN tasks t ON (t.checkpoint_id = o.checkpoint_id AND t.mm_id = o.id) OR (t.checkpoint_id = o.checkpoint_id AND t.fdtable_id = o.id)
WHERE o.checkpoint_id = :id AND o.kind IN ('mm', 'fdtable') AND o.refcount > 1
GROUP BY o.id, t.tgid
HAVING (SELECT count(DISTINCT u.tgid) FROM tasks u WHERE (u.checkpoint_id = o.checkpoint_id AND u.mm_id = o.id) OR (u.checkpoint_id = o.checkpoint_id AND u.fdtable_id = o.id)) > 1
ORDER BY o.id, t.tgid;
