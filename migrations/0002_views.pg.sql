-- 0002_views, the PostgreSQL form of 0002_views.sql: the same views with the same
-- columns, joined on (checkpoint_id, id) since ids are unique only inside a checkpoint
-- here (0001_init.pg.sql). is_thread is a boolean, as a comparison is in PostgreSQL;
-- ckptdb reads booleans as 1 and 0, as SQLite gives them.

CREATE INDEX tasks_tgid_fdtable ON tasks (checkpoint_id, tgid, fdtable_id, pid);
CREATE INDEX tasks_fdtable_holder ON tasks (checkpoint_id, fdtable_id, tgid, pid);
CREATE INDEX shared_objects_refcount ON shared_objects (checkpoint_id, kind, refcount);
CREATE INDEX files_deleted ON files (checkpoint_id) WHERE deleted = 1;
CREATE INDEX sockets_state ON sockets (checkpoint_id, state);

CREATE VIEW processes AS
SELECT t.checkpoint_id,
       t.pid,
       t.ppid,
       t.pgid,
       t.sid,
       t.state,
       t.comm,
       (SELECT count(*) FROM tasks m WHERE m.checkpoint_id = t.checkpoint_id AND m.tgid = t.pid) AS threads,
       (SELECT string_agg(a.value, ' ' ORDER BY a.n)
        FROM json_array_elements_text(CAST(t.cmdline AS json)) WITH ORDINALITY AS a (value, n)) AS command,
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

CREATE VIEW fd_holders AS
SELECT d.checkpoint_id, d.file_id, h.pid, h.tid, d.fd, d.cloexec, d.fdtable_id, d.id AS fd_id
FROM fds d
JOIN fdtable_holders h ON h.checkpoint_id = d.checkpoint_id AND h.fdtable_id = d.fdtable_id;

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
JOIN fds d ON d.checkpoint_id = h.checkpoint_id AND d.fdtable_id = h.fdtable_id
JOIN files f ON f.checkpoint_id = d.checkpoint_id AND f.id = d.file_id
JOIN shared_objects fo ON fo.checkpoint_id = d.checkpoint_id AND fo.id = d.file_id
LEFT JOIN shared_objects o ON o.checkpoint_id = f.checkpoint_id AND o.id = f.object_id
LEFT JOIN tasks k ON k.checkpoint_id = h.checkpoint_id AND k.pid = h.tid;

CREATE VIEW object_holders AS
SELECT o.checkpoint_id, o.id AS object_id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN fd_holders h ON h.checkpoint_id = o.checkpoint_id AND h.file_id = o.id
WHERE o.kind = 'file'
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, h.pid, h.tid, h.fd
FROM shared_objects o
JOIN files f ON f.checkpoint_id = o.checkpoint_id AND f.object_id = o.id
JOIN fd_holders h ON h.checkpoint_id = f.checkpoint_id AND h.file_id = f.id
WHERE o.kind IN ('inode', 'pipe', 'socket', 'anon')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN tasks t ON t.checkpoint_id = o.checkpoint_id
            AND (t.mm_id = o.id OR t.fdtable_id = o.id OR t.fs_id = o.id OR t.sighand_id = o.id)
WHERE o.kind IN ('mm', 'fdtable', 'fs', 'sighand')
UNION ALL
SELECT o.checkpoint_id, o.id, o.kind, t.tgid, t.pid, NULL
FROM shared_objects o
JOIN task_namespaces n ON n.checkpoint_id = o.checkpoint_id AND n.ns_id = o.id
JOIN tasks t ON t.checkpoint_id = n.checkpoint_id AND t.id = n.task_id
WHERE o.kind = 'ns';
