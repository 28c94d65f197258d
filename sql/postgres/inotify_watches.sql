-- name: inotify_watches
-- description: Which inodes inotify watches: each watch with its mask, who holds the inotify, and the paths they are open as.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the inotify files this process holds
-- param: limit = 100  at most this many rows; -1 for all
--
-- The PostgreSQL form of sql/inotify_watches.sql (the same parameters and rows): the
-- mask in hex by to_hex, where SQLite has printf('%x'), which PostgreSQL lacks; and
-- every join on checkpoint_id, since ids are unique only inside a checkpoint here.
SELECT w.dev, w.inode, to_hex(w.mask) AS mask, w.wd, h.pid, h.fd AS inotify_fd,
       (SELECT string_agg(DISTINCT f.path, ' ' ORDER BY f.path) FROM files f
        WHERE f.checkpoint_id = w.checkpoint_id AND f.inode = w.inode AND f.dev = w.dev) AS open_as,
       w.file_id AS inotify_file_id
FROM inotify_watches w
JOIN fd_holders h ON h.checkpoint_id = w.checkpoint_id AND h.file_id = w.file_id
WHERE w.checkpoint_id = :checkpoint
  AND h.pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY w.dev, w.inode, h.pid, h.fd, w.wd
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
