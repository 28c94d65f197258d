-- name: deleted_files
-- description: Files deleted from disk but still open: the space they hold is freed only when the last fd closes.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only files this process holds
-- param: limit = 100  at most this many rows; -1 for all
-- text: fd_text(fd, flags), flags_text(flags)
--
-- One row per fd on a deleted file, by pid and fd.
SELECT pid, comm, fd, type, path, pos, flags, dev, inode, file_id, shared
FROM open_fds
WHERE checkpoint_id = :checkpoint AND deleted = 1
  AND pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY pid, fd
LIMIT :limit;
