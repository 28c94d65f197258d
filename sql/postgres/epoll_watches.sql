-- name: epoll_watches
-- description: What each epoll watches: the fds it waits on, for which events, and what those fds are now.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the epolls this process holds
-- param: limit = 100  at most this many rows; -1 for all
--
-- The PostgreSQL form of sql/epoll_watches.sql (the same parameters and rows): events
-- and data in hex by to_hex, where SQLite has printf('%x'), which PostgreSQL lacks
-- (to_hex of a bigint gives the two's complement of a negative one, as printf does); and
-- every join on checkpoint_id, since ids are unique only inside a checkpoint here.
SELECT h.pid, h.fd AS epoll_fd, t.tfd, to_hex(t.events) AS events, to_hex(t.data) AS data,
       x.type AS target_type, x.path AS target_path,
       CASE WHEN t.inode IS NULL OR x.inode IS NULL THEN NULL ELSE x.inode = t.inode END AS same_file,
       t.file_id AS epoll_file_id
FROM epoll_targets t
JOIN fd_holders h ON h.checkpoint_id = t.checkpoint_id AND h.file_id = t.file_id
LEFT JOIN fds d ON d.checkpoint_id = h.checkpoint_id AND d.fdtable_id = h.fdtable_id AND d.fd = t.tfd
LEFT JOIN files x ON x.checkpoint_id = d.checkpoint_id AND x.id = d.file_id
WHERE t.checkpoint_id = :checkpoint
  AND h.pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY h.pid, h.fd, t.tfd, t.seq
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
