-- The diff engine's statements (sql/internal/diff.sql) in PostgreSQL's form, for two
-- checkpoints of one PostgreSQL store: the same work tables, passes, masks and reads,
-- computed in the server in one REPEATABLE READ transaction that is rolled back (its
-- TEMP tables go with it). What differs from SQLite's form:
--   * both sides are the same tables, told apart by checkpoint_id (:a, :b), and every
--     join on a row id includes checkpoint_id, since ids are unique only inside a
--     checkpoint here;
--   * IS DISTINCT FROM for SQLite's IS NOT, a boolean cast to int before its bit is
--     shifted into a mask, CASE for iif, string_agg and json_object_agg;
--   * NULLS FIRST wherever SQLite's order puts NULLs first, and text COLLATE "C", so
--     that rows are numbered and read in SQLite's order;
--   * chunks are compared by the hashes criu_image_chunks holds;
--   * fds are compared by a 64-bit fingerprint of each, in one FULL JOIN (fds_compared),
--     and only the fds whose fingerprints differ are read whole (fds_masks); kernel
--     objects in one FULL JOIN (objects_compared); SQLite runs two merges for each.
--     The pairs of fds the full join keeps (diff_pairs) are what the sharing pass reads.
-- Statements marked "per side" are run once for each side: `{side}` stands for a or b.

-- name: create_work_tables
CREATE TEMP TABLE diff_procs (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pid        bigint NOT NULL,
  start_time bigint,
  a_task     bigint,
  b_task     bigint
);
CREATE INDEX diff_procs_key ON diff_procs (pid, start_time);
CREATE TEMP TABLE diff_tables (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  proc         bigint NOT NULL,
  kind         text COLLATE "C" NOT NULL,
  thread       bigint,
  thread_start bigint,
  a_object     bigint,
  b_object     bigint
);
CREATE INDEX diff_tables_a_object ON diff_tables (a_object);
CREATE INDEX diff_tables_b_object ON diff_tables (b_object);
CREATE TEMP TABLE diff_owners (side text, object_id bigint, owner bigint, PRIMARY KEY (side, object_id));
CREATE TEMP TABLE diff_task_facts (
  side text, task_id bigint, proc bigint,
  mm bigint, fdtable bigint, fs bigint, sighand bigint,
  ns text, rlimits text,
  PRIMARY KEY (side, task_id)
);
CREATE INDEX diff_task_facts_proc ON diff_task_facts (side, proc);
-- The fds the fds pass keeps of the full join: those that differ, and those on a shared
-- file (for the sharing pass), with both sides.
CREATE TEMP TABLE diff_pairs (
  tab bigint, fd bigint, differ boolean, a_id bigint, b_id bigint, a_file bigint, b_file bigint, a_shared boolean, b_shared boolean
);
-- With the fd of the same key on the other side, where there is one (common).
CREATE TEMP TABLE diff_holders (
  side text, file_id bigint, tab bigint, fd bigint, common boolean, id bigint, other_id bigint, other_file_id bigint
);
CREATE TEMP TABLE diff_shares (side text, file_id bigint, holders text, common text);
CREATE UNIQUE INDEX diff_shares_key ON diff_shares (side, file_id);
CREATE TEMP TABLE diff_details (side text, file_id bigint, details text, PRIMARY KEY (side, file_id));
CREATE TEMP TABLE diff_tasks (proc bigint, pid bigint, start_time bigint, status text, mask integer, a_id bigint, b_id bigint);
CREATE INDEX diff_tasks_key ON diff_tasks (proc, pid, start_time);
CREATE TEMP TABLE diff_fds (tab bigint, fd bigint, status text, mask integer, a_id bigint, b_id bigint, PRIMARY KEY (tab, fd));
-- pages: of a changed map, its 4 KiB pages whose content differs; of an added or removed one, its dumped pages.
CREATE TEMP TABLE diff_maps (tab bigint, start_addr text COLLATE "C", status text, mask integer, a_id bigint, b_id bigint, pages bigint, PRIMARY KEY (tab, start_addr));
-- The dumped pages of CRIU checkpoints (criu_page_runs) one by one, with the run they are in and their hash.
CREATE TEMP TABLE diff_pages_a (pid bigint, vaddr bigint, run bigint, hash bytea, PRIMARY KEY (pid, vaddr));
CREATE TEMP TABLE diff_pages_b (pid bigint, vaddr bigint, run bigint, hash bytea, PRIMARY KEY (pid, vaddr));
-- The map each run of pages lies in (CRIU cuts runs at map boundaries), by its diff_tables id and start.
CREATE TEMP TABLE diff_page_areas (side text, pid bigint, run bigint, tab bigint, start_addr text COLLATE "C", PRIMARY KEY (side, pid, run));
CREATE TEMP TABLE diff_objects (kind text COLLATE "C", key text COLLATE "C", status text, mask integer, a_id bigint, b_id bigint, PRIMARY KEY (kind, key));
CREATE TEMP TABLE diff_images (name text COLLATE "C" PRIMARY KEY, status text, mask integer, a_id bigint, b_id bigint, differ bigint);

-- name: fill_procs
INSERT INTO diff_procs (pid, start_time, a_task, b_task)
SELECT pid, start_time, max(a_task), max(b_task)
FROM (
  SELECT t.tgid AS pid, l.start_time, l.id AS a_task, CAST(NULL AS bigint) AS b_task
  FROM tasks t LEFT JOIN tasks l ON l.checkpoint_id = t.checkpoint_id AND l.pid = t.tgid
  WHERE t.checkpoint_id = :a
  UNION ALL
  SELECT t.tgid, l.start_time, NULL, l.id
  FROM tasks t LEFT JOIN tasks l ON l.checkpoint_id = t.checkpoint_id AND l.pid = t.tgid
  WHERE t.checkpoint_id = :b
) AS sides
GROUP BY pid, start_time
ORDER BY pid, start_time NULLS FIRST;

-- name: fill_tables
INSERT INTO diff_tables (proc, kind, thread, thread_start, a_object, b_object)
WITH task AS (
  SELECT 'a' AS side, p.id AS proc, t.pid, t.start_time, t.pid = t.tgid AS main, t.fdtable_id, t.mm_id
  FROM tasks t
  LEFT JOIN tasks l ON l.checkpoint_id = :a AND l.pid = t.tgid
  JOIN diff_procs p ON p.pid = t.tgid AND p.start_time IS NOT DISTINCT FROM l.start_time
  WHERE t.checkpoint_id = :a
  UNION ALL
  SELECT 'b', p.id, t.pid, t.start_time, t.pid = t.tgid, t.fdtable_id, t.mm_id
  FROM tasks t
  LEFT JOIN tasks l ON l.checkpoint_id = :b AND l.pid = t.tgid
  JOIN diff_procs p ON p.pid = t.tgid AND p.start_time IS NOT DISTINCT FROM l.start_time
  WHERE t.checkpoint_id = :b
),
held AS (
  SELECT side, proc, CAST('fdtable' AS text) COLLATE "C" AS kind, fdtable_id AS object, pid, start_time, main FROM task WHERE fdtable_id IS NOT NULL
  UNION ALL
  SELECT side, proc, 'mm', mm_id, pid, start_time, main FROM task WHERE mm_id IS NOT NULL
),
holder AS (
  SELECT side, proc, kind, object, pid, start_time,
         row_number() OVER (PARTITION BY side, proc, kind, object ORDER BY main DESC, pid) AS nth,
         first_value(object) OVER (PARTITION BY side, proc, kind ORDER BY main DESC, pid) AS own
  FROM held
),
owned AS (
  SELECT side, proc, kind, object,
         CASE WHEN object = own THEN NULL ELSE pid END AS thread,
         CASE WHEN object = own THEN NULL ELSE start_time END AS thread_start
  FROM holder
  WHERE nth = 1
)
SELECT proc, kind, thread, thread_start, max(CASE WHEN side = 'a' THEN object END), max(CASE WHEN side = 'b' THEN object END)
FROM owned
GROUP BY proc, kind, thread, thread_start
ORDER BY proc, kind, thread NULLS FIRST, thread_start NULLS FIRST;

-- name: fill_owners
-- Per side.
INSERT INTO diff_owners (side, object_id, owner)
SELECT '{side}', object_id, coalesce(min(CASE WHEN pid = tgid THEN pid END), min(pid))
FROM (
  SELECT mm_id AS object_id, pid, tgid FROM tasks WHERE checkpoint_id = :{side} AND mm_id IS NOT NULL
  UNION ALL
  SELECT fdtable_id, pid, tgid FROM tasks WHERE checkpoint_id = :{side} AND fdtable_id IS NOT NULL
  UNION ALL
  SELECT fs_id, pid, tgid FROM tasks WHERE checkpoint_id = :{side} AND fs_id IS NOT NULL
  UNION ALL
  SELECT sighand_id, pid, tgid FROM tasks WHERE checkpoint_id = :{side} AND sighand_id IS NOT NULL
) AS refs
GROUP BY object_id;

-- name: fill_task_facts
-- Per side. :ignored is a JSON array of ignored field names ('ns.net', 'rlimits.core').
INSERT INTO diff_task_facts (side, task_id, proc, mm, fdtable, fs, sighand, ns, rlimits)
SELECT '{side}', t.id,
  (SELECT p.id FROM diff_procs p
   WHERE p.pid = t.tgid
     AND p.start_time IS NOT DISTINCT FROM (SELECT l.start_time FROM tasks l WHERE l.checkpoint_id = :{side} AND l.pid = t.tgid)),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.mm_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.fdtable_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.fs_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.sighand_id),
  (SELECT coalesce(CAST(json_object_agg(n.type, o.key ORDER BY n.type) AS text), '{}')
   FROM task_namespaces n JOIN shared_objects o ON o.checkpoint_id = n.checkpoint_id AND o.id = n.ns_id
   WHERE n.checkpoint_id = :{side} AND n.task_id = t.id
     AND 'ns.' || n.type NOT IN (SELECT value FROM json_array_elements_text(CAST(:ignored AS json)))),
  (SELECT coalesce(CAST(json_object_agg(r.resource, coalesce(CAST(r.soft AS text), 'unlimited') || '/' || coalesce(CAST(r.hard AS text), 'unlimited') ORDER BY r.resource) AS text), '{}')
   FROM task_rlimits r
   WHERE r.checkpoint_id = :{side} AND r.task_id = t.id
     AND 'rlimits.' || r.resource NOT IN (SELECT value FROM json_array_elements_text(CAST(:ignored AS json))))
FROM tasks t
WHERE t.checkpoint_id = :{side};

-- name: tasks_removed_or_changed
INSERT INTO diff_tasks (proc, pid, start_time, status, mask, a_id, b_id)
SELECT proc, pid, start_time, status, mask, a_id, b_id FROM (
  SELECT fa.proc, ta.pid, ta.start_time, CASE WHEN tb.id IS NULL THEN 'removed' ELSE 'changed' END AS status,
    CASE WHEN tb.id IS NULL THEN 0 ELSE
        (ta.tgid IS DISTINCT FROM tb.tgid)::int
      | ((ta.ppid IS DISTINCT FROM tb.ppid)::int << 1)
      | ((ta.pgid IS DISTINCT FROM tb.pgid)::int << 2)
      | ((ta.sid IS DISTINCT FROM tb.sid)::int << 3)
      | ((ta.state IS DISTINCT FROM tb.state)::int << 4)
      | ((ta.comm IS DISTINCT FROM tb.comm)::int << 5)
      | ((ta.uid IS DISTINCT FROM tb.uid)::int << 6)
      | ((ta.euid IS DISTINCT FROM tb.euid)::int << 7)
      | ((ta.suid IS DISTINCT FROM tb.suid)::int << 8)
      | ((ta.fsuid IS DISTINCT FROM tb.fsuid)::int << 9)
      | ((ta.gid IS DISTINCT FROM tb.gid)::int << 10)
      | ((ta.egid IS DISTINCT FROM tb.egid)::int << 11)
      | ((ta.sgid IS DISTINCT FROM tb.sgid)::int << 12)
      | ((ta.fsgid IS DISTINCT FROM tb.fsgid)::int << 13)
      | ((ta.cmdline IS DISTINCT FROM tb.cmdline)::int << 14)
      | ((ta.exe IS DISTINCT FROM tb.exe)::int << 15)
      | ((ta.cwd IS DISTINCT FROM tb.cwd)::int << 16)
      | ((ta.root IS DISTINCT FROM tb.root)::int << 17)
      | ((ta.sig_pending IS DISTINCT FROM tb.sig_pending)::int << 18)
      | ((ta.sig_blocked IS DISTINCT FROM tb.sig_blocked)::int << 19)
      | ((ta.sig_ignored IS DISTINCT FROM tb.sig_ignored)::int << 20)
      | ((ta.sig_caught IS DISTINCT FROM tb.sig_caught)::int << 21)
      | ((ta.env IS DISTINCT FROM tb.env)::int << 22)
      | ((ta.attrs IS DISTINCT FROM tb.attrs)::int << 23)
      | ((fa.mm IS DISTINCT FROM fb.mm)::int << 24)
      | ((fa.fdtable IS DISTINCT FROM fb.fdtable)::int << 25)
      | ((fa.fs IS DISTINCT FROM fb.fs)::int << 26)
      | ((fa.sighand IS DISTINCT FROM fb.sighand)::int << 27)
      | ((fa.ns IS DISTINCT FROM fb.ns)::int << 28)
      | ((fa.rlimits IS DISTINCT FROM fb.rlimits)::int << 29) END AS mask,
    ta.id AS a_id, tb.id AS b_id
  FROM tasks ta
  JOIN diff_task_facts fa ON fa.side = 'a' AND fa.task_id = ta.id
  LEFT JOIN tasks tb ON tb.checkpoint_id = :b AND tb.pid = ta.pid AND tb.start_time IS NOT DISTINCT FROM ta.start_time
  LEFT JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = tb.id
  WHERE ta.checkpoint_id = :a
) AS compared
WHERE b_id IS NULL OR mask <> 0;

-- name: tasks_added
INSERT INTO diff_tasks (proc, pid, start_time, status, mask, a_id, b_id)
SELECT fb.proc, tb.pid, tb.start_time, 'added', 0, NULL, tb.id
FROM tasks tb
JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = tb.id
WHERE tb.checkpoint_id = :b
  AND NOT EXISTS (SELECT 1 FROM tasks ta WHERE ta.checkpoint_id = :a AND ta.pid = tb.pid AND ta.start_time IS NOT DISTINCT FROM tb.start_time);

-- name: merge_joins
-- Around fds_compared: its joins of a million fds with their files, merged in order
-- (files read in id order, fds sorted by file), take four fifths of the time of hash
-- joins, which probe a table of 50 MB at random for every fd; the planner picks hashes.
SET LOCAL enable_hashjoin = off;

-- name: hash_joins
SET LOCAL enable_hashjoin = on;

-- name: fds_compared
-- The hot path, in one statement: every fd of each side with a fingerprint of what it is
-- (its cloexec and its open file's type, path, dev, inode, pos, flags, mode, deleted and
-- attrs, hashed to 64 bits by hash_record_extended, each column by its type's hash),
-- matched by (fd table, fd) in one FULL JOIN, which finds the removed, added and changed
-- fds at once (SQLite's form takes two merges of sorted indexes instead). Kept: the fds
-- that differ, and those on a shared file, for the sharing pass. A file is hashed before
-- it is joined (OFFSET 0 keeps it apart), so a join holds 16 bytes a file, not its row,
-- in id order, which the merge with the fds reads (see merge_joins).
-- Two fds with one fingerprint are taken as equal: two that differ share one with a
-- chance of 2^-64. What changed in a changed fd is read after (fds_masks), for those alone.
INSERT INTO diff_pairs (tab, fd, differ, a_id, b_id, a_file, b_file, a_shared, b_shared)
WITH fa AS (
  SELECT p.id AS tab, f.fd, f.id, f.file_id, x.fp # f.cloexec AS fp, s.id IS NOT NULL AS shared
  FROM fds f
  JOIN (SELECT id, hash_record_extended(ROW(type, path, dev, inode, pos, flags, mode, deleted, attrs), 0) AS fp
        FROM files WHERE checkpoint_id = :a ORDER BY id OFFSET 0) AS x ON x.id = f.file_id
  JOIN diff_tables p ON p.a_object = f.fdtable_id AND p.kind = 'fdtable'
  LEFT JOIN (SELECT id FROM shared_objects WHERE checkpoint_id = :a AND kind = 'file' AND refcount > 1) AS s ON s.id = f.file_id
  WHERE f.checkpoint_id = :a
),
fb AS (
  SELECT p.id AS tab, f.fd, f.id, f.file_id, x.fp # f.cloexec AS fp, s.id IS NOT NULL AS shared
  FROM fds f
  JOIN (SELECT id, hash_record_extended(ROW(type, path, dev, inode, pos, flags, mode, deleted, attrs), 0) AS fp
        FROM files WHERE checkpoint_id = :b ORDER BY id OFFSET 0) AS x ON x.id = f.file_id
  JOIN diff_tables p ON p.b_object = f.fdtable_id AND p.kind = 'fdtable'
  LEFT JOIN (SELECT id FROM shared_objects WHERE checkpoint_id = :b AND kind = 'file' AND refcount > 1) AS s ON s.id = f.file_id
  WHERE f.checkpoint_id = :b
)
SELECT coalesce(fa.tab, fb.tab), coalesce(fa.fd, fb.fd), fa.fp IS DISTINCT FROM fb.fp, fa.id, fb.id, fa.file_id, fb.file_id,
       coalesce(fa.shared, false), coalesce(fb.shared, false)
FROM fa FULL JOIN fb ON fb.tab = fa.tab AND fb.fd = fa.fd
WHERE fa.fp IS DISTINCT FROM fb.fp OR fa.shared OR fb.shared;

-- name: fds_found
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT tab, fd, CASE WHEN b_id IS NULL THEN 'removed' WHEN a_id IS NULL THEN 'added' ELSE 'changed' END, 0, a_id, b_id
FROM diff_pairs WHERE differ;

-- name: fds_masks
-- The fields that differ, of the fds whose fingerprints differ: their rows by id.
UPDATE diff_fds d SET mask =
    (fa.cloexec IS DISTINCT FROM fb.cloexec)::int
  | ((xa.type IS DISTINCT FROM xb.type)::int << 1)
  | ((xa.path IS DISTINCT FROM xb.path)::int << 2)
  | ((xa.dev IS DISTINCT FROM xb.dev)::int << 3)
  | ((xa.inode IS DISTINCT FROM xb.inode)::int << 4)
  | ((xa.pos IS DISTINCT FROM xb.pos)::int << 5)
  | ((xa.flags IS DISTINCT FROM xb.flags)::int << 6)
  | ((xa.mode IS DISTINCT FROM xb.mode)::int << 7)
  | ((xa.deleted IS DISTINCT FROM xb.deleted)::int << 8)
  | ((xa.attrs IS DISTINCT FROM xb.attrs)::int << 9)
FROM fds fa, files xa, fds fb, files xb
WHERE d.status = 'changed'
  AND fa.checkpoint_id = :a AND fa.id = d.a_id AND xa.checkpoint_id = :a AND xa.id = fa.file_id
  AND fb.checkpoint_id = :b AND fb.id = d.b_id AND xb.checkpoint_id = :b AND xb.id = fb.file_id;

-- name: fill_holders
-- Each fd whose open file more than one fd shares, once per process holding its fd table,
-- with the fd of the same key on the other side where there is one: from the fds pass.
INSERT INTO diff_holders (side, file_id, tab, fd, common, id, other_id, other_file_id)
SELECT 'a', a_file, tab, fd, b_id IS NOT NULL, a_id, b_id, b_file FROM diff_pairs WHERE a_shared
UNION ALL
SELECT 'b', b_file, tab, fd, a_id IS NOT NULL, b_id, a_id, a_file FROM diff_pairs WHERE b_shared;

-- name: fill_shares
INSERT INTO diff_shares (side, file_id, holders, common)
SELECT h.side, h.file_id,
       string_agg(p.pid || coalesce('/' || t.thread, '') || ':' || h.fd, ',' ORDER BY p.pid, t.thread NULLS FIRST, h.fd),
       string_agg(CASE WHEN h.common THEN h.tab || ':' || h.fd END, ',' ORDER BY h.tab, h.fd)
FROM diff_holders h JOIN diff_tables t ON t.id = h.tab JOIN diff_procs p ON p.id = t.proc
GROUP BY h.side, h.file_id;

-- name: fds_sharing_changed
-- An fd in both checkpoints whose open file is shared with another set of fds (bit 10,
-- shared_with), from the holders alone: each common one knows both fds and files.
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT DISTINCT c.tab, c.fd, 'changed', 1 << 10, c.a_id, c.b_id
FROM (
  SELECT tab, fd,
         CASE WHEN side = 'a' THEN id ELSE other_id END AS a_id, CASE WHEN side = 'a' THEN other_id ELSE id END AS b_id,
         CASE WHEN side = 'a' THEN file_id ELSE other_file_id END AS a_file, CASE WHEN side = 'a' THEN other_file_id ELSE file_id END AS b_file
  FROM diff_holders WHERE common
) AS c
LEFT JOIN diff_shares sa ON sa.side = 'a' AND sa.file_id = c.a_file
LEFT JOIN diff_shares sb ON sb.side = 'b' AND sb.file_id = c.b_file
WHERE coalesce(sa.common, c.tab || ':' || c.fd) IS DISTINCT FROM coalesce(sb.common, c.tab || ':' || c.fd)
ON CONFLICT (tab, fd) DO UPDATE SET mask = diff_fds.mask | excluded.mask;

-- name: fill_details
-- Per side. The details of each anonymous file as one JSON object by kind, as SQLite's
-- fill_details writes it (what is compared, and what the diff reports).
INSERT INTO diff_details (side, file_id, details)
SELECT '{side}', file_id, CAST(json_object_agg(kind, value ORDER BY kind) AS text)
FROM (
  SELECT file_id, 'eventfd' AS kind, json_build_object('counter', counter) AS value FROM file_eventfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'epoll', json_agg(json_build_array(tfd, events, data, inode, dev, pos) ORDER BY seq) FROM epoll_targets WHERE checkpoint_id = :{side} GROUP BY file_id
  UNION ALL
  SELECT file_id, 'inotify', json_agg(json_build_array(wd, inode, dev, mask, ignored_mask) ORDER BY wd) FROM inotify_watches WHERE checkpoint_id = :{side} GROUP BY file_id
  UNION ALL
  SELECT file_id, 'timerfd', json_build_object('clockid', clockid, 'settime_flags', settime_flags, 'interval_ns', interval_ns) FROM file_timerfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'signalfd', to_json(sigmask) FROM file_signalfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'tty', json_build_object('kind', kind, 'index', tty_index, 'role', role, 'rdev', rdev) FROM file_ttys WHERE checkpoint_id = :{side}
) AS details
GROUP BY file_id;

-- name: fds_details_changed
-- An fd in both checkpoints whose open file's details differ (bit 11, details), found
-- from the files that have details, which are few: by fds (checkpoint_id, file_id).
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT c.tab, c.fd, 'changed', 1 << 11, fa.id, fb.id
FROM (
  SELECT p.id AS tab, f.fd
  FROM diff_details d
  JOIN fds f ON f.checkpoint_id = :a AND f.file_id = d.file_id
  JOIN diff_tables p ON p.a_object = f.fdtable_id AND p.kind = 'fdtable'
  WHERE d.side = 'a'
  UNION
  SELECT p.id, f.fd
  FROM diff_details d
  JOIN fds f ON f.checkpoint_id = :b AND f.file_id = d.file_id
  JOIN diff_tables p ON p.b_object = f.fdtable_id AND p.kind = 'fdtable'
  WHERE d.side = 'b'
) AS c
JOIN diff_tables p ON p.id = c.tab
JOIN fds fa ON fa.checkpoint_id = :a AND fa.fdtable_id = p.a_object AND fa.fd = c.fd
JOIN fds fb ON fb.checkpoint_id = :b AND fb.fdtable_id = p.b_object AND fb.fd = c.fd
LEFT JOIN diff_details da ON da.side = 'a' AND da.file_id = fa.file_id
LEFT JOIN diff_details db ON db.side = 'b' AND db.file_id = fb.file_id
WHERE da.details IS DISTINCT FROM db.details
ON CONFLICT (tab, fd) DO UPDATE SET mask = diff_fds.mask | excluded.mask;

-- name: maps_removed_or_changed
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id)
SELECT c.tab, c.start_addr, CASE WHEN mb.id IS NULL THEN 'removed' ELSE 'changed' END,
  CASE WHEN mb.id IS NULL THEN 0 ELSE
      (ma.end_addr IS DISTINCT FROM mb.end_addr)::int
    | ((ma.perms IS DISTINCT FROM mb.perms)::int << 1)
    | ((ma.pgoff IS DISTINCT FROM mb.pgoff)::int << 2)
    | ((ma.dev IS DISTINCT FROM mb.dev)::int << 3)
    | ((ma.inode IS DISTINCT FROM mb.inode)::int << 4)
    | ((ma.path IS DISTINCT FROM mb.path)::int << 5)
    | ((ma.attrs IS DISTINCT FROM mb.attrs)::int << 6) END,
  ma.id, mb.id
FROM (
  SELECT p.id AS tab, m.start_addr, m.end_addr, m.perms, m.pgoff, m.dev, m.inode, m.path, m.attrs
  FROM diff_tables p JOIN maps m ON m.checkpoint_id = :a AND m.mm_id = p.a_object WHERE p.kind = 'mm'
  EXCEPT
  SELECT p.id, m.start_addr, m.end_addr, m.perms, m.pgoff, m.dev, m.inode, m.path, m.attrs
  FROM diff_tables p JOIN maps m ON m.checkpoint_id = :b AND m.mm_id = p.b_object WHERE p.kind = 'mm'
) AS c
JOIN diff_tables p ON p.id = c.tab
JOIN maps ma ON ma.checkpoint_id = :a AND ma.mm_id = p.a_object AND ma.start_addr = c.start_addr
LEFT JOIN maps mb ON mb.checkpoint_id = :b AND mb.mm_id = p.b_object AND mb.start_addr = c.start_addr;

-- name: maps_added
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id)
SELECT c.tab, c.start_addr, 'added', 0, NULL, mb.id
FROM (
  SELECT p.id AS tab, m.start_addr FROM diff_tables p JOIN maps m ON m.checkpoint_id = :b AND m.mm_id = p.b_object WHERE p.kind = 'mm'
  EXCEPT
  SELECT p.id, m.start_addr FROM diff_tables p JOIN maps m ON m.checkpoint_id = :a AND m.mm_id = p.a_object WHERE p.kind = 'mm'
) AS c
JOIN diff_tables p ON p.id = c.tab
JOIN maps mb ON mb.checkpoint_id = :b AND mb.mm_id = p.b_object AND mb.start_addr = c.start_addr;

-- name: fill_pages
-- Per side. Every dumped page of the checkpoint's processes: page k of a run at vaddr is
-- chunk seq + k of its pages image, whose hash criu_image_chunks holds also where the
-- pages themselves stayed on their host.
INSERT INTO diff_pages_{side} (pid, vaddr, run, hash)
SELECT r.pid, r.vaddr + (ic.seq - r.seq) * 4096, r.vaddr, ic.hash
FROM criu_page_runs r
JOIN criu_image_chunks ic ON ic.checkpoint_id = r.checkpoint_id AND ic.image_id = r.image_id
  AND ic.seq >= r.seq AND ic.seq < r.seq + r.nr_pages
WHERE r.checkpoint_id = :{side};

-- name: fill_page_areas
-- Per side. The map of its process's own address space each run of pages starts in.
INSERT INTO diff_page_areas (side, pid, run, tab, start_addr)
SELECT '{side}', r.pid, r.vaddr, t.id, m.start_addr
FROM criu_page_runs r
JOIN diff_procs p ON p.pid = r.pid AND p.{side}_task IS NOT NULL
JOIN diff_tables t ON t.proc = p.id AND t.kind = 'mm' AND t.thread IS NULL
JOIN maps m ON m.checkpoint_id = :{side} AND m.mm_id = t.{side}_object
  AND m.start_addr <= lpad(to_hex(r.vaddr), 16, '0') AND m.end_addr > lpad(to_hex(r.vaddr), 16, '0')
WHERE r.checkpoint_id = :{side};

-- name: maps_pages_changed
-- The maps of both sides whose pages differ: a page whose hash differs, or that one side
-- dumped and the other did not. A page is counted in the map of A that holds it, a page
-- only B dumped in the map of B.
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id, pages)
WITH differ AS (
  SELECT 'a' AS side, x.pid, x.run FROM diff_pages_a x
  LEFT JOIN diff_pages_b y ON y.pid = x.pid AND y.vaddr = x.vaddr
  WHERE y.hash IS DISTINCT FROM x.hash
  UNION ALL
  SELECT 'b', y.pid, y.run FROM diff_pages_b y
  WHERE NOT EXISTS (SELECT 1 FROM diff_pages_a x WHERE x.pid = y.pid AND x.vaddr = y.vaddr)
),
per_area AS (
  SELECT ar.tab, ar.start_addr, count(*) AS n
  FROM differ d JOIN diff_page_areas ar ON ar.side = d.side AND ar.pid = d.pid AND ar.run = d.run
  GROUP BY ar.tab, ar.start_addr
)
SELECT pa.tab, pa.start_addr, 'changed', 1 << 7, ma.id, mb.id, pa.n
FROM per_area pa
JOIN diff_tables t ON t.id = pa.tab
JOIN maps ma ON ma.checkpoint_id = :a AND ma.mm_id = t.a_object AND ma.start_addr = pa.start_addr
JOIN maps mb ON mb.checkpoint_id = :b AND mb.mm_id = t.b_object AND mb.start_addr = pa.start_addr
ON CONFLICT (tab, start_addr) DO UPDATE SET mask = diff_maps.mask | excluded.mask, pages = excluded.pages;

-- name: maps_pages_of_added_or_removed
-- Per side: the dumped pages of a map only this side has, where the checkpoint keeps
-- memory. Counted once per map, not once per map and page.
WITH counted AS MATERIALIZED (
  SELECT ar.tab, ar.start_addr, count(*) AS n
  FROM diff_pages_{side} x
  JOIN diff_page_areas ar ON ar.side = '{side}' AND ar.pid = x.pid AND ar.run = x.run
  GROUP BY ar.tab, ar.start_addr
)
UPDATE diff_maps SET pages = coalesce((SELECT c.n FROM counted c WHERE c.tab = diff_maps.tab AND c.start_addr = diff_maps.start_addr), 0)
WHERE status = CASE WHEN '{side}' = 'a' THEN 'removed' ELSE 'added' END
  AND EXISTS (SELECT 1 FROM criu_page_runs WHERE checkpoint_id = :{side});

-- name: objects_compared
-- Kinds whose key is a kernel identity, matched by (kind, key) in one hashed FULL JOIN.
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id)
WITH oa AS (
  SELECT id, kind, key, refcount, attrs FROM shared_objects
  WHERE checkpoint_id = :a AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
),
ob AS (
  SELECT id, kind, key, refcount, attrs FROM shared_objects
  WHERE checkpoint_id = :b AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
)
SELECT kind, key, status, mask, a_id, b_id FROM (
  SELECT coalesce(oa.kind, ob.kind) AS kind, coalesce(oa.key, ob.key) AS key,
    CASE WHEN ob.id IS NULL THEN 'removed' WHEN oa.id IS NULL THEN 'added' ELSE 'changed' END AS status,
    CASE WHEN oa.id IS NULL OR ob.id IS NULL THEN 0 ELSE
      (oa.refcount IS DISTINCT FROM ob.refcount)::int | ((oa.attrs IS DISTINCT FROM ob.attrs)::int << 1) END AS mask,
    oa.id AS a_id, ob.id AS b_id
  FROM oa FULL JOIN ob ON ob.kind = oa.kind AND ob.key = oa.key
) AS compared
WHERE a_id IS NULL OR b_id IS NULL OR mask <> 0;

-- name: sockets_changed
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id)
SELECT kind, key, 'changed', mask, a_id, b_id FROM (
  SELECT oa.kind, oa.key,
      ((sa.family IS DISTINCT FROM sb.family)::int << 2)
    | ((sa.sock_type IS DISTINCT FROM sb.sock_type)::int << 3)
    | ((sa.protocol IS DISTINCT FROM sb.protocol)::int << 4)
    | ((sa.state IS DISTINCT FROM sb.state)::int << 5)
    | ((sa.local_addr IS DISTINCT FROM sb.local_addr)::int << 6)
    | ((sa.local_port IS DISTINCT FROM sb.local_port)::int << 7)
    | ((sa.remote_addr IS DISTINCT FROM sb.remote_addr)::int << 8)
    | ((sa.remote_port IS DISTINCT FROM sb.remote_port)::int << 9)
    | ((sa.peer_ino IS DISTINCT FROM sb.peer_ino)::int << 10)
    | ((sa.attrs IS DISTINCT FROM sb.attrs)::int << 11) AS mask,
    oa.id AS a_id, ob.id AS b_id
  FROM shared_objects oa
  JOIN shared_objects ob ON ob.checkpoint_id = :b AND ob.kind = oa.kind AND ob.key = oa.key
  LEFT JOIN sockets sa ON sa.checkpoint_id = :a AND sa.object_id = oa.id
  LEFT JOIN sockets sb ON sb.checkpoint_id = :b AND sb.object_id = ob.id
  WHERE oa.checkpoint_id = :a AND oa.kind = 'socket'
) AS compared
WHERE mask <> 0
ON CONFLICT (kind, key) DO UPDATE SET mask = diff_objects.mask | excluded.mask;

-- name: images_removed_or_changed
INSERT INTO diff_images (name, status, mask, a_id, b_id, differ)
WITH pair AS MATERIALIZED (
  SELECT ia.id AS a_id, ib.id AS b_id, ia.name, ia.kind AS a_kind, ib.kind AS b_kind, ia.role AS a_role, ib.role AS b_role,
         ia.size AS a_size, ib.size AS b_size, ia.entries AS a_entries, ib.entries AS b_entries,
         (SELECT count(*) FROM criu_image_chunks WHERE checkpoint_id = :a AND image_id = ia.id) AS a_chunks,
         (SELECT count(*) FROM criu_image_chunks WHERE checkpoint_id = :b AND image_id = ib.id) AS b_chunks
  FROM criu_images ia
  LEFT JOIN criu_images ib ON ib.checkpoint_id = :b AND ib.name = ia.name
  WHERE ia.checkpoint_id = :a AND ia.kind IS DISTINCT FROM 'STATS' AND NOT (ia.role = 'other' AND ia.name LIKE '%.log')
),
compared AS (
  SELECT p.a_id, count(*) AS common, count(*) FILTER (WHERE ca.hash = cb.hash) AS same
  FROM pair p
  JOIN criu_image_chunks ca ON ca.checkpoint_id = :a AND ca.image_id = p.a_id
  JOIN criu_image_chunks cb ON cb.checkpoint_id = :b AND cb.image_id = p.b_id AND cb.seq = ca.seq
  WHERE p.b_id IS NOT NULL
  GROUP BY p.a_id
),
counted AS (
  SELECT p.*, CASE WHEN p.b_id IS NULL THEN p.a_chunks ELSE p.a_chunks + p.b_chunks - coalesce(c.common, 0) - coalesce(c.same, 0) END AS differ
  FROM pair p LEFT JOIN compared c ON c.a_id = p.a_id
)
SELECT name, status, mask, a_id, b_id, differ FROM (
  SELECT name, CASE WHEN b_id IS NULL THEN 'removed' ELSE 'changed' END AS status,
    CASE WHEN b_id IS NULL THEN 0 ELSE
        (a_kind IS DISTINCT FROM b_kind)::int
      | ((a_role IS DISTINCT FROM b_role)::int << 1)
      | ((a_size IS DISTINCT FROM b_size)::int << 2)
      | ((a_entries IS DISTINCT FROM b_entries)::int << 3)
      | ((differ > 0)::int << 4) END AS mask,
    a_id, b_id, differ
  FROM counted
) AS compared
WHERE b_id IS NULL OR mask <> 0;

-- name: images_added
INSERT INTO diff_images (name, status, mask, a_id, b_id, differ)
SELECT ib.name, 'added', 0, NULL, ib.id, (SELECT count(*) FROM criu_image_chunks WHERE checkpoint_id = :b AND image_id = ib.id)
FROM criu_images ib
WHERE ib.checkpoint_id = :b AND ib.kind IS DISTINCT FROM 'STATS' AND NOT (ib.role = 'other' AND ib.name LIKE '%.log')
  AND NOT EXISTS (SELECT 1 FROM criu_images ia WHERE ia.checkpoint_id = :a AND ia.name = ib.name);

-- name: drop_ignored
DELETE FROM diff_tasks WHERE status = 'changed' AND mask & :tasks = 0;
DELETE FROM diff_fds WHERE status = 'changed' AND mask & :fds = 0;
DELETE FROM diff_maps WHERE status = 'changed' AND mask & :maps = 0;
DELETE FROM diff_objects WHERE status = 'changed' AND mask & :objects = 0;
DELETE FROM diff_images WHERE status = 'changed' AND mask & :images = 0;

-- name: count_changes
SELECT 'tasks' AS kind, status, count(*) AS n FROM diff_tasks GROUP BY status
UNION ALL SELECT 'fds', status, count(*) FROM diff_fds GROUP BY status
UNION ALL SELECT 'maps', status, count(*) FROM diff_maps GROUP BY status
UNION ALL SELECT 'objects', status, count(*) FROM diff_objects GROUP BY status
UNION ALL SELECT 'images', status, count(*) FROM diff_images GROUP BY status;

-- name: changed_processes
SELECT p.id, p.pid, p.start_time, coalesce(tb.comm, ta.comm) AS comm,
       EXISTS (SELECT 1 FROM diff_task_facts f WHERE f.side = 'a' AND f.proc = p.id) AS in_a,
       EXISTS (SELECT 1 FROM diff_task_facts f WHERE f.side = 'b' AND f.proc = p.id) AS in_b
FROM diff_procs p
LEFT JOIN tasks ta ON ta.checkpoint_id = :a AND ta.id = p.a_task
LEFT JOIN tasks tb ON tb.checkpoint_id = :b AND tb.id = p.b_task
WHERE p.id IN (
  SELECT proc FROM diff_tasks
  UNION SELECT t.proc FROM diff_fds d JOIN diff_tables t ON t.id = d.tab
  UNION SELECT t.proc FROM diff_maps d JOIN diff_tables t ON t.id = d.tab
)
ORDER BY p.id;

-- name: read_tasks
SELECT d.proc, p.pid AS proc_pid, p.start_time AS proc_start_time, d.pid, d.start_time, d.status, d.mask,
  ta.tgid AS a_tgid, ta.ppid AS a_ppid, ta.pgid AS a_pgid, ta.sid AS a_sid, ta.state AS a_state, ta.comm AS a_comm,
  ta.uid AS a_uid, ta.euid AS a_euid, ta.suid AS a_suid, ta.fsuid AS a_fsuid,
  ta.gid AS a_gid, ta.egid AS a_egid, ta.sgid AS a_sgid, ta.fsgid AS a_fsgid,
  ta.cmdline AS a_cmdline, ta.exe AS a_exe, ta.cwd AS a_cwd, ta.root AS a_root,
  ta.sig_pending AS a_sig_pending, ta.sig_blocked AS a_sig_blocked, ta.sig_ignored AS a_sig_ignored, ta.sig_caught AS a_sig_caught,
  ta.env AS a_env, ta.attrs AS a_attrs,
  fa.mm AS a_mm, fa.fdtable AS a_fdtable, fa.fs AS a_fs, fa.sighand AS a_sighand, fa.ns AS a_ns, fa.rlimits AS a_rlimits,
  tb.tgid AS b_tgid, tb.ppid AS b_ppid, tb.pgid AS b_pgid, tb.sid AS b_sid, tb.state AS b_state, tb.comm AS b_comm,
  tb.uid AS b_uid, tb.euid AS b_euid, tb.suid AS b_suid, tb.fsuid AS b_fsuid,
  tb.gid AS b_gid, tb.egid AS b_egid, tb.sgid AS b_sgid, tb.fsgid AS b_fsgid,
  tb.cmdline AS b_cmdline, tb.exe AS b_exe, tb.cwd AS b_cwd, tb.root AS b_root,
  tb.sig_pending AS b_sig_pending, tb.sig_blocked AS b_sig_blocked, tb.sig_ignored AS b_sig_ignored, tb.sig_caught AS b_sig_caught,
  tb.env AS b_env, tb.attrs AS b_attrs,
  fb.mm AS b_mm, fb.fdtable AS b_fdtable, fb.fs AS b_fs, fb.sighand AS b_sighand, fb.ns AS b_ns, fb.rlimits AS b_rlimits
FROM diff_tasks d
JOIN diff_procs p ON p.id = d.proc
LEFT JOIN tasks ta ON ta.checkpoint_id = :a AND ta.id = d.a_id
LEFT JOIN diff_task_facts fa ON fa.side = 'a' AND fa.task_id = d.a_id
LEFT JOIN tasks tb ON tb.checkpoint_id = :b AND tb.id = d.b_id
LEFT JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = d.b_id
ORDER BY d.proc, d.pid, d.start_time NULLS FIRST;

-- name: read_fds
SELECT t.proc, p.pid, p.start_time, t.thread, t.thread_start, d.fd, d.status, d.mask,
  fa.cloexec AS a_cloexec, xa.type AS a_type, xa.path AS a_path, xa.dev AS a_dev, xa.inode AS a_inode,
  xa.pos AS a_pos, xa.flags AS a_flags, xa.mode AS a_mode, xa.deleted AS a_deleted, xa.attrs AS a_attrs,
  sa.holders AS a_shared_with, da.details AS a_details,
  fb.cloexec AS b_cloexec, xb.type AS b_type, xb.path AS b_path, xb.dev AS b_dev, xb.inode AS b_inode,
  xb.pos AS b_pos, xb.flags AS b_flags, xb.mode AS b_mode, xb.deleted AS b_deleted, xb.attrs AS b_attrs,
  sb.holders AS b_shared_with, db.details AS b_details
FROM diff_fds d
JOIN diff_tables t ON t.id = d.tab
JOIN diff_procs p ON p.id = t.proc
LEFT JOIN fds fa ON fa.checkpoint_id = :a AND fa.id = d.a_id
LEFT JOIN files xa ON xa.checkpoint_id = :a AND xa.id = fa.file_id
LEFT JOIN diff_shares sa ON sa.side = 'a' AND sa.file_id = fa.file_id
LEFT JOIN fds fb ON fb.checkpoint_id = :b AND fb.id = d.b_id
LEFT JOIN files xb ON xb.checkpoint_id = :b AND xb.id = fb.file_id
LEFT JOIN diff_shares sb ON sb.side = 'b' AND sb.file_id = fb.file_id
LEFT JOIN diff_details da ON da.side = 'a' AND da.file_id = fa.file_id
LEFT JOIN diff_details db ON db.side = 'b' AND db.file_id = fb.file_id
ORDER BY d.tab, d.fd;

-- name: read_maps
-- pages: of a changed map the new value (the old is NULL), of an added or removed one its side's.
SELECT t.proc, p.pid, p.start_time, t.thread, t.thread_start, d.start_addr AS start, d.status, d.mask,
  ma.end_addr AS a_end, ma.perms AS a_perms, ma.pgoff AS a_pgoff, ma.dev AS a_dev, ma.inode AS a_inode,
  ma.path AS a_path, ma.attrs AS a_attrs, CASE WHEN d.status = 'removed' THEN d.pages END AS a_pages,
  mb.end_addr AS b_end, mb.perms AS b_perms, mb.pgoff AS b_pgoff, mb.dev AS b_dev, mb.inode AS b_inode,
  mb.path AS b_path, mb.attrs AS b_attrs, CASE WHEN d.status = 'removed' THEN NULL ELSE d.pages END AS b_pages
FROM diff_maps d
JOIN diff_tables t ON t.id = d.tab
JOIN diff_procs p ON p.id = t.proc
LEFT JOIN maps ma ON ma.checkpoint_id = :a AND ma.id = d.a_id
LEFT JOIN maps mb ON mb.checkpoint_id = :b AND mb.id = d.b_id
ORDER BY d.tab, d.start_addr;

-- name: read_objects
SELECT d.kind, d.key, d.status, d.mask,
  oa.refcount AS a_refcount, oa.attrs AS a_attrs,
  sa.family AS a_family, sa.sock_type AS a_sock_type, sa.protocol AS a_protocol, sa.state AS a_state,
  sa.local_addr AS a_local_addr, sa.local_port AS a_local_port, sa.remote_addr AS a_remote_addr,
  sa.remote_port AS a_remote_port, sa.peer_ino AS a_peer_ino, sa.attrs AS a_sock_attrs,
  ob.refcount AS b_refcount, ob.attrs AS b_attrs,
  sb.family AS b_family, sb.sock_type AS b_sock_type, sb.protocol AS b_protocol, sb.state AS b_state,
  sb.local_addr AS b_local_addr, sb.local_port AS b_local_port, sb.remote_addr AS b_remote_addr,
  sb.remote_port AS b_remote_port, sb.peer_ino AS b_peer_ino, sb.attrs AS b_sock_attrs
FROM diff_objects d
LEFT JOIN shared_objects oa ON oa.checkpoint_id = :a AND oa.id = d.a_id
LEFT JOIN sockets sa ON sa.checkpoint_id = :a AND sa.object_id = d.a_id
LEFT JOIN shared_objects ob ON ob.checkpoint_id = :b AND ob.id = d.b_id
LEFT JOIN sockets sb ON sb.checkpoint_id = :b AND sb.object_id = d.b_id
ORDER BY d.kind, d.key;

-- name: read_images
SELECT d.name, d.status, d.mask,
  ia.kind AS a_kind, ia.role AS a_role, ia.size AS a_size, ia.entries AS a_entries,
  CASE WHEN d.status = 'removed' THEN d.differ END AS a_content,
  ib.kind AS b_kind, ib.role AS b_role, ib.size AS b_size, ib.entries AS b_entries,
  CASE WHEN d.status = 'removed' THEN NULL ELSE d.differ END AS b_content
FROM diff_images d
LEFT JOIN criu_images ia ON ia.checkpoint_id = :a AND ia.id = d.a_id
LEFT JOIN criu_images ib ON ib.checkpoint_id = :b AND ib.id = d.b_id
ORDER BY d.name;

-- name: checkpoint_ref
SELECT id AS checkpoint, label, source, started_at FROM checkpoints WHERE id = :id;
