-- 0002_views: the joins everyone writes, as views, and the indexes the canned queries
-- in sql/ need to answer in milliseconds on checkpoints of a million fds.
--
-- A process is the tasks with one tgid; its main thread is the task whose pid equals
-- the tgid. Its fds are those of every fd table its tasks hold: usually one table that
-- all its threads share. "pid" in these views is the process id (the tgid), as ps and
-- lsof show it; "tid" names a thread.

-- Which tasks hold an fd table, read from the index alone (fdtable_holders, below):
-- by process, and by table.
CREATE INDEX tasks_tgid_fdtable ON tasks (checkpoint_id, tgid, fdtable_id, pid);
CREATE INDEX tasks_fdtable_holder ON tasks (fdtable_id, checkpoint_id, tgid, pid);
-- Shared objects by how widely they are shared: "refcount > 1" is a range scan.
CREATE INDEX shared_objects_refcount ON shared_objects (checkpoint_id, kind, refcount);
-- Deleted files that are still open are few: keep a small index of just those.
CREATE INDEX files_deleted ON files (checkpoint_id) WHERE deleted = 1;
-- Sockets by state (LISTEN, ESTABLISHED, ...).
CREATE INDEX sockets_state ON sockets (checkpoint_id, state);

-- processes: one row per process (its main thread), with the thread count and the
-- command line as one string (arguments joined by spaces; cmdline keeps the JSON array).
-- (No ORDER BY inside group_concat: the sqlite3 shell of Debian 12 could not read it.)
--   SELECT pid, ppid, threads, command FROM processes WHERE checkpoint_id = 1;
CREATE VIEW processes AS
SELECT t.checkpoint_id,
       t.pid,
       t.ppid,
       t.pgid,
       t.sid,
       t.state,
       t.comm,
       (SELECT count(*) FROM tasks m WHERE m.checkpoint_id = t.checkpoint_id AND m.tgid = t.pid) AS threads,
       (SELECT group_concat(value, ' ') FROM (SELECT value FROM json_each(t.cmdline) ORDER BY key)) AS command,
       t.cmdline,
       t.exe,
       t.cwd,
       t.uid,
       t.gid,
       t.start_time,
       t.mm_id,
       t.fdtable_id,
       t.id AS task_id
FROM tasks t
WHERE t.pid = t.tgid;

-- task_info: every task (thread) with its process and that process's parent.
-- is_thread is 1 for every task but the main thread.
--   SELECT tid, pid, comm, parent_comm FROM task_info WHERE checkpoint_id = 1 AND is_thread;
CREATE VIEW task_info AS
SELECT t.checkpoint_id,
       t.pid AS tid,
       t.tgid AS pid,
       t.pid <> t.tgid AS is_thread,
       t.comm,
       t.state,
       p.comm AS process_comm,
       p.cmdline AS process_cmdline,
       p.ppid,
       pp.comm AS parent_comm,
       pp.cmdline AS parent_cmdline,
       t.mm_id,
       t.fdtable_id,
       t.fs_id,
       t.sighand_id,
       t.id AS task_id
FROM tasks t
LEFT JOIN tasks p ON p.checkpoint_id = t.checkpoint_id AND p.pid = t.tgid
LEFT JOIN tasks pp ON pp.checkpoint_id = t.checkpoint_id AND pp.pid = p.ppid;

-- fdtable_holders: which processes hold each fd table, one row per (process, table).
-- tid is the task that stands for the process at that table: the main thread when it
-- holds the table, else the lowest thread id that does (a thread that unshared its
-- fd table holds a table of its own). Written as a filter, not a GROUP BY, so that
-- it joins by index from either side.
CREATE VIEW fdtable_holders AS
SELECT t.checkpoint_id,
       t.tgid AS pid,
       t.fdtable_id,
       t.pid AS tid
FROM tasks t
WHERE t.fdtable_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM tasks o
    WHERE o.checkpoint_id = t.checkpoint_id AND o.tgid = t.tgid AND o.fdtable_id = t.fdtable_id
      AND o.pid <> t.pid
      AND (o.pid = o.tgid OR (t.pid <> t.tgid AND o.pid < t.pid)));

-- fd_holders: every fd with the process holding it (and the thread, for the fds of
-- a thread with an fd table of its own): the join from an open file to who holds it.
--   SELECT pid, fd FROM fd_holders WHERE file_id = 77;
CREATE VIEW fd_holders AS
SELECT d.checkpoint_id, d.file_id, h.pid, h.tid, d.fd, d.cloexec, d.fdtable_id, d.id AS fd_id
FROM fds d
JOIN fdtable_holders h ON h.fdtable_id = d.fdtable_id;

-- open_fds: every fd of every process, like lsof: the fd with its open file, the
-- object behind the file (pipe, socket, inode, ...) and the process holding it.
-- shared is how many fds in the checkpoint point at this open file (its refcount):
-- above 1 after dup() or fork(), and they then share one position.
--   SELECT fd, type, path, shared FROM open_fds WHERE checkpoint_id = 1 AND pid = 4242;
CREATE VIEW open_fds AS
SELECT h.checkpoint_id,
       h.pid,
       h.tid,
       k.comm,
       d.fd,
       d.cloexec,
       f.type,
       f.path,
       f.pos,
       f.flags,
       f.mode,
       f.deleted,
       f.dev,
       f.inode,
       f.mnt_id,
       d.file_id,
       fo.refcount AS shared,
       f.object_id,
       o.kind AS object_kind,
       o.key AS object_key,
       d.fdtable_id,
       d.id AS fd_id
FROM fdtable_holders h
JOIN fds d ON d.fdtable_id = h.fdtable_id
JOIN files f ON f.id = d.file_id
JOIN shared_objects fo ON fo.id = d.file_id
LEFT JOIN shared_objects o ON o.id = f.object_id
LEFT JOIN tasks k ON k.checkpoint_id = h.checkpoint_id AND k.pid = h.tid;

-- object_holders: who references each shared object, one row per reference, named by
-- process: an open file through the fds pointing at it; a pipe, socket, inode or anon
-- object through the files on it (and their fds); an address space, fd table, fs or
-- signal handler object through the tasks using it; a namespace through its tasks.
-- fd is null for references made by a task; tid is the thread for those.
--   SELECT pid, fd FROM object_holders WHERE object_id = 77;
CREATE VIEW object_holders AS
SELECT o.checkpoint_id, o.id AS object_id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN fd_holders h ON h.file_id = o.id
WHERE o.kind = 'file'
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN files f ON f.object_id = o.id
JOIN fd_holders h ON h.file_id = f.id
WHERE o.kind IN ('inode', 'pipe', 'socket', 'anon')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN tasks t ON t.mm_id = o.id OR t.fdtable_id = o.id OR t.fs_id = o.id OR t.sighand_id = o.id
WHERE o.kind IN ('mm', 'fdtable', 'fs', 'sighand')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN task_namespaces n ON n.ns_id = o.id
JOIN tasks t ON t.id = n.task_id
WHERE o.kind = 'ns';
