-- name: open_files
-- description: Open files per process, like lsof: every fd with its open file, and how many fds share that file.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only this process
-- param: limit = 1000  at most this many rows; -1 for all
-- text: fd_text(fd, flags), type_text(type, mode, socket_family), flags_text(flags), mode_text(mode)
--
-- A process's fds are those of the fd tables its threads hold (open_fds in
-- migrations/0002_views.sql). shared counts the fds in the checkpoint that point at
-- the same open file: more than 1 after dup() or fork(), and those share a position.
-- The pid range is one index range whether or not a pid was given. socket_family is
-- the family of the socket behind the file (unix, inet, inet6, ...), null for others.
-- The text forms (lsof's FD and TYPE, O_* names, ls -l modes) are those of
-- migrations/0009_text_forms.sql.
SELECT pid, tid, comm, fd, cloexec, type, path, pos, flags, mode, deleted, file_id, shared, object_kind, object_key,
       (SELECT s.family FROM sockets s WHERE s.object_id = open_fds.object_id) AS socket_family
FROM open_fds
WHERE checkpoint_id = :checkpoint
  AND pid BETWEEN coalesce(:pid, 0) AND coalesce(:pid, 4294967295)
ORDER BY pid, fdtable_id, fd
LIMIT :limit;
