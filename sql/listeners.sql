-- name: listeners
-- description: Listening sockets of every host, in its newest checkpoint, with the processes that hold them: which hosts serve a port.
-- param: port?  only sockets listening on this port
-- param: host?  only this host
-- param: limit = 1000  at most this many rows; -1 for all
--
-- One row per listening socket and process holding it (a socket inherited by workers
-- shows once per worker), by host, port and address; fds lists the process's fds on
-- it. A unix socket has its path as local_addr and no port. The newest checkpoint of
-- a host is the one taken last (newest_per_host).
WITH newest AS (
  SELECT id, host FROM (
    SELECT c.id, c.host, row_number() OVER (PARTITION BY c.host ORDER BY c.started_at DESC, c.id DESC) AS nth
    FROM checkpoints c
    WHERE :host IS NULL OR c.host = :host
  ) AS ranked
  WHERE nth = 1
)
SELECT n.host, n.id AS checkpoint, h.pid, t.comm, s.family, s.sock_type AS type, s.local_addr, s.local_port,
       string_agg(CAST(h.fd AS TEXT), ',' ORDER BY h.fd) AS fds
FROM newest n
JOIN sockets s ON s.checkpoint_id = n.id
JOIN files f ON f.checkpoint_id = s.checkpoint_id AND f.object_id = s.object_id
JOIN fd_holders h ON h.checkpoint_id = f.checkpoint_id AND h.file_id = f.id
LEFT JOIN tasks t ON t.checkpoint_id = h.checkpoint_id AND t.pid = h.pid
WHERE s.state = 'LISTEN' AND (:port IS NULL OR s.local_port = :port)
GROUP BY n.host, n.id, s.object_id, h.pid, t.comm, s.family, s.sock_type, s.local_addr, s.local_port
ORDER BY n.host NULLS FIRST, s.local_port NULLS FIRST, s.local_addr NULLS FIRST, s.object_id, h.pid
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
