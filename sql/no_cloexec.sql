-- name: no_cloexec
-- description: fds without close-on-exec: what a process would pass on to a program it executes.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only this process
-- param: limit = 1000  at most this many rows; -1 for all
-- text: fd_text(fd, flags), flags_text(flags)
--
-- stdin, stdout and stderr (fds 0-2) are meant to be inherited; the other rows are
-- the candidates for leaks into child programs.
SELECT pid, comm, fd, type, path, flags, file_id, shared
FROM open_fds
WHERE checkpoint_id = :checkpoint AND cloexec = 0
  AND pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY pid, fdtable_id, fd
LIMIT :limit;
