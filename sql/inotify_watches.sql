-- name: inotify_watches
-- description: Which inodes inotify watches: each watch with its mask, who holds the inotify, and the paths the inode is open as.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the inotify files this process holds
-- param: limit = 100  at most this many rows; -1 for all
--
-- One row per watch and holder, by the watched inode (device, then inode number). mask
-- is hex, as fdinfo prints it (IN_MODIFY 2, IN_CREATE 100, IN_DELETE 200, ...). inotify
-- knows an inode, not a path: open_as lists the paths of the checkpoint's open files on
-- that inode, where there are any.
SELECT w.dev, w.inode, printf('%x', w.mask) AS mask, w.wd, h.pid, h.fd AS inotify_fd,
       (SELECT group_concat(p.path, ' ') FROM (SELECT DISTINCT f.path FROM files f
         WHERE f.checkpoint_id = w.checkpoint_id AND f.inode = w.inode AND f.dev = w.dev ORDER BY f.path) p) AS open_as,
       w.file_id AS inotify_file_id
FROM inotify_watches w
CROSS JOIN fd_holders h ON h.checkpoint_id = w.checkpoint_id AND h.file_id = w.file_id
WHERE w.checkpoint_id = :checkpoint
  AND h.pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY w.dev, w.inode, h.pid, h.fd, w.wd
LIMIT :limit;
