-- name: open_files
-- description: Open files per process, like lsof: every fd with its open file, and how many fds share that file.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only this process
-- param: limit = 1000  at most this many rows; -1 for all
--
-- A process's fds are those of the fd tables its threads hold (open_fds in
-- migrations/0002_views.sql). shared counts the fds in the checkpoint that point at
-- the same open file: more than 1 after dup() or fork(), and those share a position.
-- The pid range is one index range whether or not a pid was given.
SELECT pid, tid, comm, fd, cloexec, type, path, pos, flags, mode, deleted, file_id, shared, object_kind, object_key
FROM open_fds
WHERE checkpoint_id = :checkpoint
  AND pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY pid, fdtable_id, fd
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
