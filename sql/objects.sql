-- name: objects
-- description: Shared objects (open files, pipes, sockets, inodes, address spaces, fd tables, ...) with their refcounts and holders.
-- param: checkpoint = newest  the checkpoint to read
-- param: kind?  only objects of this kind: file, inode, pipe, socket, anon, mm, fdtable, fs, sighand, ns
-- param: shared = 0  1: only objects with more than one reference
-- param: limit = 100  at most this many objects; -1 for all
--
-- A PostgreSQL store runs sql/postgres/objects.sql: the same rows, every join on checkpoint_id too.
--
-- holders names who references the object, per process: pid:fd,fd for the fds on an
-- open file, or on the files of a pipe, socket, inode or anon object (pid/tid:fd for a
-- thread with an fd table of its own); pid/tid,tid for the threads that use an
-- address space, fd table, fs, signal handlers or namespace. Objects come by kind,
-- then refcount (least shared first, as `sort -n`), then capture order: the order of
-- the index, so that a LIMIT stops the reading early.
SELECT o.id AS object_id, o.kind, o.key, o.refcount, o.inferred,
       CASE
         WHEN o.kind = 'file' THEN (
           SELECT group_concat(pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || fds, ' ' ORDER BY pid, tid) FROM (
             SELECT pid, tid, group_concat(fd, ',' ORDER BY fd) AS fds
             FROM fd_holders WHERE checkpoint_id = o.checkpoint_id AND file_id = o.id
             GROUP BY pid, tid))
         WHEN o.kind IN ('inode', 'pipe', 'socket', 'anon') THEN (
           SELECT group_concat(pid || CASE WHEN tid <> pid THEN '/' || tid ELSE '' END || ':' || fds, ' ' ORDER BY pid, tid) FROM (
             SELECT h.pid, h.tid, group_concat(h.fd, ',' ORDER BY h.fd) AS fds
             FROM files f JOIN fd_holders h ON h.checkpoint_id = f.checkpoint_id AND h.file_id = f.id
             WHERE f.checkpoint_id = o.checkpoint_id AND f.object_id = o.id
             GROUP BY h.pid, h.tid))
         ELSE (
           SELECT group_concat(tgid || '/' || tids, ' ' ORDER BY tgid) FROM (
             SELECT t.tgid, group_concat(t.pid, ',' ORDER BY t.pid) AS tids
             FROM tasks t
             -- each term names the checkpoint, so that each reads an index of its own
             WHERE (t.checkpoint_id = o.checkpoint_id AND t.mm_id = o.id)
                OR (t.checkpoint_id = o.checkpoint_id AND t.fdtable_id = o.id)
                OR (t.checkpoint_id = o.checkpoint_id AND t.fs_id = o.id)
                OR (t.checkpoint_id = o.checkpoint_id AND t.sighand_id = o.id)
                OR (t.checkpoint_id = o.checkpoint_id
                    AND t.id IN (SELECT task_id FROM task_namespaces WHERE checkpoint_id = o.checkpoint_id AND ns_id = o.id))
             GROUP BY t.tgid))
       END AS holders
FROM shared_objects o
WHERE o.checkpoint_id = :checkpoint
  -- one index range whether or not a kind was given
  AND o.kind BETWEEN coalesce(:kind, '') AND coalesce(:kind, char(1114111))
  AND (:shared = 0 OR o.refcount > 1)
ORDER BY o.kind, o.refcount, o.id
LIMIT :limit;
