-- name: epoll_watches
-- description: What each epoll watches: the fds it waits on, for which events, and what those fds are now.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the epolls this process holds
-- param: limit = 100  at most this many rows; -1 for all
--
-- One row per target of an epoll, by holder, epoll fd and watched fd.
-- events and data are hex, as fdinfo prints them (EPOLLIN 1, EPOLLOUT 4, EPOLLET
-- 80000000, ...). tfd is the watched fd's number in the holder's fd table; target_type and
-- target_path say what that fd is, and same_file whether it is still the file the epoll
-- watches (1), another one (0: the fd was closed and its number reused; the epoll keeps
-- watching the old file), or unknown (NULL: the source recorded no inode for one side).
SELECT h.pid, h.fd AS epoll_fd, t.tfd, printf('%x', t.events) AS events, printf('%x', t.data) AS data,
       x.type AS target_type, x.path AS target_path,
       CASE WHEN t.inode IS NULL OR x.inode IS NULL THEN NULL ELSE x.inode = t.inode END AS same_file,
       t.file_id AS epoll_file_id
FROM epoll_targets t
CROSS JOIN fd_holders h ON h.checkpoint_id = t.checkpoint_id AND h.file_id = t.file_id
LEFT JOIN fds d ON d.checkpoint_id = t.checkpoint_id AND d.fdtable_id = h.fdtable_id AND d.fd = t.tfd
LEFT JOIN files x ON x.id = d.file_id
WHERE t.checkpoint_id = :checkpoint
  AND h.pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY h.pid, h.fd, t.tfd, t.seq
LIMIT :limit;
