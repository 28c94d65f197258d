-- Statements of the diff engine (src/query/diff/): what changed from checkpoint :a to
-- checkpoint :b, computed in SQLite over both checkpoints and written to TEMP tables
-- that hold only the differences; nothing of either checkpoint is loaded into memory.
--
-- The engine opens a read-only connection and attaches the store of A as schema `a`
-- and the store of B as schema `b` (the same file twice when both checkpoints are in
-- one store), so every statement reads `a.` against `b.` in the same way.
-- Statements marked "per side" are run once for each side: `{side}` stands for a or b
-- (a schema, a column prefix, a parameter name), `{other}` for the other one.
--
-- Identity (row ids differ between checkpoints and are never compared):
--   process  tgid + start time of its main thread (NULL when that thread has no row; a
--            main thread that exited while other threads run is a zombie row, still there)
--   task     pid + start time
--   table    an fd table or address space that tasks of a process hold: process + owner.
--            The process's main table (its main thread's; when the main thread holds
--            none, the one of its lowest tid that holds one) is owned by the process
--            itself; any other (a thread's own fd table after unshare(CLONE_FILES)) by
--            the lowest tid of the process holding it, with its start time
--   fd       fd table + fd number; the open file behind it is compared by what it is
--   map      address space + start address
--   object   kind + key, for the kinds whose key is a kernel identity
--   image    name of a file a CRIU import keeps (criu_images); its bytes by the SHA-256
--            hashes of its chunks, as chunk ids are local to one store file
--
-- Every `mask` has one bit per compared field, in the order of FIELDS in
-- src/query/diff/fields.ts; a change whose bits are all ignored is dropped. In SQLite
-- `|` and `<<` bind equally, so every shifted term stands in its own parentheses.

-- name: create_work_tables
CREATE TEMP TABLE diff_procs (
  id         INTEGER PRIMARY KEY,        -- numbered in (pid, start_time) order: the output order
  pid        INTEGER NOT NULL,           -- the tgid
  start_time INTEGER,
  a_task     INTEGER,                    -- the main thread's row on each side
  b_task     INTEGER
);
CREATE INDEX temp.diff_procs_key ON diff_procs (pid, start_time);
-- Every fd table and address space of every process, once, matched by owner (see fill_tables).
CREATE TEMP TABLE diff_tables (
  id           INTEGER PRIMARY KEY,      -- numbered in (process, kind, owner) order: the output order
  proc         INTEGER NOT NULL,
  kind         TEXT    NOT NULL,         -- fdtable | mm
  thread       INTEGER,                  -- owner: NULL for the process, else a tid and its start time
  thread_start INTEGER,
  a_object     INTEGER,                  -- the shared_objects row on each side
  b_object     INTEGER
);
CREATE INDEX temp.diff_tables_a_object ON diff_tables (a_object);
CREATE INDEX temp.diff_tables_b_object ON diff_tables (b_object);
-- Owner of an address space, fd table, fs info or signal-handler table (see fill_owners).
CREATE TEMP TABLE diff_owners (side TEXT, object_id INTEGER, owner INTEGER, PRIMARY KEY (side, object_id)) WITHOUT ROWID;
-- What a task is compared by beside its own columns.
CREATE TEMP TABLE diff_task_facts (
  side TEXT, task_id INTEGER, proc INTEGER,
  mm INTEGER, fdtable INTEGER, fs INTEGER, sighand INTEGER,
  ns TEXT,                               -- JSON object: namespace type -> key
  rlimits TEXT,                          -- JSON object: resource -> 'soft/hard'
  PRIMARY KEY (side, task_id)
) WITHOUT ROWID;
CREATE INDEX temp.diff_task_facts_proc ON diff_task_facts (side, proc);
-- The fds of every open file that more than one fd shares; tab is the fd table's diff_tables id.
CREATE TEMP TABLE diff_holders (side TEXT, file_id INTEGER, tab INTEGER, fd INTEGER, common INTEGER);
CREATE INDEX temp.diff_holders_common ON diff_holders (common, tab, fd);
-- Per shared open file: all its holders as 'pid:fd' ('pid/tid:fd' in a thread's own fd
-- table), and those in both checkpoints as 'tab:fd'. A rowid table: these lists can be
-- long, and an index b-tree (WITHOUT ROWID) would read a whole overflowing row to
-- compare each key.
CREATE TEMP TABLE diff_shares (side TEXT, file_id INTEGER, holders TEXT, common TEXT);
CREATE UNIQUE INDEX temp.diff_shares_key ON diff_shares (side, file_id);
-- Per open file with details (0005_file_details): what they are, as one JSON object.
CREATE TEMP TABLE diff_details (side TEXT, file_id INTEGER, details TEXT, PRIMARY KEY (side, file_id)) WITHOUT ROWID;
-- The differences: status added | removed | changed, and the row on each side.
CREATE TEMP TABLE diff_tasks (proc INTEGER, pid INTEGER, start_time INTEGER, status TEXT, mask INTEGER, a_id INTEGER, b_id INTEGER);
CREATE INDEX temp.diff_tasks_key ON diff_tasks (proc, pid, start_time);
CREATE TEMP TABLE diff_fds (tab INTEGER, fd INTEGER, status TEXT, mask INTEGER, a_id INTEGER, b_id INTEGER, PRIMARY KEY (tab, fd)) WITHOUT ROWID;
-- pages: of a changed map, its 4 KiB pages whose content differs; of an added or removed one, its dumped pages.
CREATE TEMP TABLE diff_maps (tab INTEGER, start_addr TEXT, status TEXT, mask INTEGER, a_id INTEGER, b_id INTEGER, pages INTEGER, PRIMARY KEY (tab, start_addr)) WITHOUT ROWID;
-- The dumped pages of CRIU checkpoints (criu_page_runs) one by one, with the run they are in and their hash.
CREATE TEMP TABLE diff_pages_a (pid INTEGER, vaddr INTEGER, run INTEGER, hash BLOB, PRIMARY KEY (pid, vaddr)) WITHOUT ROWID;
CREATE TEMP TABLE diff_pages_b (pid INTEGER, vaddr INTEGER, run INTEGER, hash BLOB, PRIMARY KEY (pid, vaddr)) WITHOUT ROWID;
-- The map each run of pages lies in (CRIU cuts runs at map boundaries), by its diff_tables id and start.
CREATE TEMP TABLE diff_page_areas (side TEXT, pid INTEGER, run INTEGER, tab INTEGER, start_addr TEXT, PRIMARY KEY (side, pid, run)) WITHOUT ROWID;
CREATE TEMP TABLE diff_objects (kind TEXT, key TEXT, status TEXT, mask INTEGER, a_id INTEGER, b_id INTEGER, PRIMARY KEY (kind, key)) WITHOUT ROWID;
-- differ: the chunks that differ from the other side (all of an added or removed image's).
CREATE TEMP TABLE diff_images (name TEXT PRIMARY KEY, status TEXT, mask INTEGER, a_id INTEGER, b_id INTEGER, differ INTEGER) WITHOUT ROWID;

-- name: fill_procs
-- Every process of either checkpoint, once, matched by tgid and main-thread start time.
INSERT INTO diff_procs (pid, start_time, a_task, b_task)
SELECT pid, start_time, max(a_task), max(b_task)
FROM (
  SELECT t.tgid AS pid, l.start_time, l.id AS a_task, NULL AS b_task
  FROM a.tasks t LEFT JOIN a.tasks l ON l.checkpoint_id = t.checkpoint_id AND l.pid = t.tgid
  WHERE t.checkpoint_id = :a
  UNION ALL
  SELECT t.tgid, l.start_time, NULL, l.id
  FROM b.tasks t LEFT JOIN b.tasks l ON l.checkpoint_id = t.checkpoint_id AND l.pid = t.tgid
  WHERE t.checkpoint_id = :b
)
GROUP BY pid, start_time
ORDER BY pid, start_time;

-- name: fill_tables
-- Every fd table and address space held by a task of a process, once per process, with
-- its owner in the process. A process's fds and maps are those of every table its
-- tasks hold, not only its main thread's: a thread with an fd table of its own has fds
-- nobody else has, and a main thread that exited (a zombie) holds neither table while
-- its other threads run on both. The main thread is taken first, then the tids in
-- order: the first table is the process's own, every other one its first holder's.
-- A table that several processes hold (clone(CLONE_FILES) without CLONE_THREAD) is
-- listed under each of them, as its fds are theirs.
INSERT INTO diff_tables (proc, kind, thread, thread_start, a_object, b_object)
WITH task AS (
  SELECT 'a' AS side, p.id AS proc, t.pid, t.start_time, t.pid = t.tgid AS main, t.fdtable_id, t.mm_id
  FROM a.tasks t
  LEFT JOIN a.tasks l ON l.checkpoint_id = :a AND l.pid = t.tgid
  JOIN diff_procs p ON p.pid = t.tgid AND p.start_time IS l.start_time
  WHERE t.checkpoint_id = :a
  UNION ALL
  SELECT 'b', p.id, t.pid, t.start_time, t.pid = t.tgid, t.fdtable_id, t.mm_id
  FROM b.tasks t
  LEFT JOIN b.tasks l ON l.checkpoint_id = :b AND l.pid = t.tgid
  JOIN diff_procs p ON p.pid = t.tgid AND p.start_time IS l.start_time
  WHERE t.checkpoint_id = :b
),
held AS (
  SELECT side, proc, 'fdtable' AS kind, fdtable_id AS object, pid, start_time, main FROM task WHERE fdtable_id IS NOT NULL
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
  SELECT side, proc, kind, object, iif(object = own, NULL, pid) AS thread, iif(object = own, NULL, start_time) AS thread_start
  FROM holder
  WHERE nth = 1
)
SELECT proc, kind, thread, thread_start, max(iif(side = 'a', object, NULL)), max(iif(side = 'b', object, NULL))
FROM owned
GROUP BY proc, kind, thread, thread_start
ORDER BY proc, kind, thread, thread_start;

-- name: fill_owners
-- Per side. The keys of address spaces, fd tables, fs info and signal handlers are
-- local to one capture, so each is named by its owner instead: the lowest pid of a
-- main thread holding it, else the lowest pid holding it. A thread that leaves or
-- joins one shows as a task whose mm / fdtable / fs / sighand changed owner.
INSERT INTO diff_owners (side, object_id, owner)
SELECT '{side}', object_id, coalesce(min(iif(pid = tgid, pid, NULL)), min(pid))
FROM (
  SELECT mm_id AS object_id, pid, tgid FROM {side}.tasks WHERE checkpoint_id = :{side} AND mm_id IS NOT NULL
  UNION ALL
  SELECT fdtable_id, pid, tgid FROM {side}.tasks WHERE checkpoint_id = :{side} AND fdtable_id IS NOT NULL
  UNION ALL
  SELECT fs_id, pid, tgid FROM {side}.tasks WHERE checkpoint_id = :{side} AND fs_id IS NOT NULL
  UNION ALL
  SELECT sighand_id, pid, tgid FROM {side}.tasks WHERE checkpoint_id = :{side} AND sighand_id IS NOT NULL
)
GROUP BY object_id;

-- name: fill_task_facts
-- Per side. :ignored is a JSON array of ignored field names ('ns.net', 'rlimits.core').
INSERT INTO diff_task_facts (side, task_id, proc, mm, fdtable, fs, sighand, ns, rlimits)
SELECT '{side}', t.id,
  (SELECT p.id FROM diff_procs p
   WHERE p.pid = t.tgid
     AND p.start_time IS (SELECT l.start_time FROM {side}.tasks l WHERE l.checkpoint_id = :{side} AND l.pid = t.tgid)),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.mm_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.fdtable_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.fs_id),
  (SELECT owner FROM diff_owners WHERE side = '{side}' AND object_id = t.sighand_id),
  (SELECT json_group_object(n.type, o.key ORDER BY n.type)
   FROM {side}.task_namespaces n JOIN {side}.shared_objects o ON o.id = n.ns_id
   WHERE n.checkpoint_id = :{side} AND n.task_id = t.id AND 'ns.' || n.type NOT IN (SELECT value FROM json_each(:ignored))),
  (SELECT json_group_object(r.resource, coalesce(r.soft, 'unlimited') || '/' || coalesce(r.hard, 'unlimited') ORDER BY r.resource)
   FROM {side}.task_rlimits r
   WHERE r.checkpoint_id = :{side} AND r.task_id = t.id AND 'rlimits.' || r.resource NOT IN (SELECT value FROM json_each(:ignored)))
FROM {side}.tasks t
WHERE t.checkpoint_id = :{side};

-- name: tasks_removed_or_changed
-- Tasks are few beside fds: one pass computes every field's bit.
INSERT INTO diff_tasks (proc, pid, start_time, status, mask, a_id, b_id)
SELECT fa.proc, ta.pid, ta.start_time, iif(tb.id IS NULL, 'removed', 'changed'),
  iif(tb.id IS NULL, 0,
      (ta.tgid IS NOT tb.tgid)
    | ((ta.ppid IS NOT tb.ppid) << 1)
    | ((ta.pgid IS NOT tb.pgid) << 2)
    | ((ta.sid IS NOT tb.sid) << 3)
    | ((ta.state IS NOT tb.state) << 4)
    | ((ta.comm IS NOT tb.comm) << 5)
    | ((ta.uid IS NOT tb.uid) << 6)
    | ((ta.euid IS NOT tb.euid) << 7)
    | ((ta.suid IS NOT tb.suid) << 8)
    | ((ta.fsuid IS NOT tb.fsuid) << 9)
    | ((ta.gid IS NOT tb.gid) << 10)
    | ((ta.egid IS NOT tb.egid) << 11)
    | ((ta.sgid IS NOT tb.sgid) << 12)
    | ((ta.fsgid IS NOT tb.fsgid) << 13)
    | ((ta.cmdline IS NOT tb.cmdline) << 14)
    | ((ta.exe IS NOT tb.exe) << 15)
    | ((ta.cwd IS NOT tb.cwd) << 16)
    | ((ta.root IS NOT tb.root) << 17)
    | ((ta.sig_pending IS NOT tb.sig_pending) << 18)
    | ((ta.sig_blocked IS NOT tb.sig_blocked) << 19)
    | ((ta.sig_ignored IS NOT tb.sig_ignored) << 20)
    | ((ta.sig_caught IS NOT tb.sig_caught) << 21)
    | ((ta.env IS NOT tb.env) << 22)
    | ((ta.attrs IS NOT tb.attrs) << 23)
    | ((fa.mm IS NOT fb.mm) << 24)
    | ((fa.fdtable IS NOT fb.fdtable) << 25)
    | ((fa.fs IS NOT fb.fs) << 26)
    | ((fa.sighand IS NOT fb.sighand) << 27)
    | ((fa.ns IS NOT fb.ns) << 28)
    | ((fa.rlimits IS NOT fb.rlimits) << 29)) AS mask,
  ta.id, tb.id
FROM a.tasks ta
JOIN diff_task_facts fa ON fa.side = 'a' AND fa.task_id = ta.id
LEFT JOIN b.tasks tb ON tb.checkpoint_id = :b AND tb.pid = ta.pid AND tb.start_time IS ta.start_time
LEFT JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = tb.id
WHERE ta.checkpoint_id = :a AND (tb.id IS NULL OR mask <> 0);

-- name: tasks_added
INSERT INTO diff_tasks (proc, pid, start_time, status, mask, a_id, b_id)
SELECT fb.proc, tb.pid, tb.start_time, 'added', 0, NULL, tb.id
FROM b.tasks tb
JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = tb.id
WHERE tb.checkpoint_id = :b
  AND NOT EXISTS (SELECT 1 FROM a.tasks ta WHERE ta.checkpoint_id = :a AND ta.pid = tb.pid AND ta.start_time IS tb.start_time);

-- name: fds_removed_or_changed
-- The hot path. Each side's fds with what their open file is, in (fd table, fd) order
-- (CROSS JOIN keeps the tables outermost, so both come in index order), merged by
-- EXCEPT: SQLite runs it as one merge pass over both, with no per-fd lookup. What is
-- left, the fds of A with no identical fd in B, is few: CROSS JOIN keeps it outermost
-- while it is classified and masked by key.
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT c.tab, c.fd, iif(fb.id IS NULL, 'removed', 'changed'),
  iif(fb.id IS NULL, 0,
      (fa.cloexec IS NOT fb.cloexec)
    | ((xa.type IS NOT xb.type) << 1)
    | ((xa.path IS NOT xb.path) << 2)
    | ((xa.dev IS NOT xb.dev) << 3)
    | ((xa.inode IS NOT xb.inode) << 4)
    | ((xa.pos IS NOT xb.pos) << 5)
    | ((xa.flags IS NOT xb.flags) << 6)
    | ((xa.mode IS NOT xb.mode) << 7)
    | ((xa.deleted IS NOT xb.deleted) << 8)
    | ((xa.attrs IS NOT xb.attrs) << 9)),
  fa.id, fb.id
FROM (
  SELECT p.id AS tab, f.fd, f.cloexec, x.type, x.path, x.dev, x.inode, x.pos, x.flags, x.mode, x.deleted, x.attrs
  FROM diff_tables p CROSS JOIN a.fds f ON f.checkpoint_id = :a AND f.fdtable_id = p.a_object JOIN a.files x ON x.id = f.file_id
  WHERE p.kind = 'fdtable'
  EXCEPT
  SELECT p.id, f.fd, f.cloexec, x.type, x.path, x.dev, x.inode, x.pos, x.flags, x.mode, x.deleted, x.attrs
  FROM diff_tables p CROSS JOIN b.fds f ON f.checkpoint_id = :b AND f.fdtable_id = p.b_object JOIN b.files x ON x.id = f.file_id
  WHERE p.kind = 'fdtable'
  ORDER BY 1, 2
) c
CROSS JOIN diff_tables p ON p.id = c.tab
CROSS JOIN a.fds fa ON fa.checkpoint_id = :a AND fa.fdtable_id = p.a_object AND fa.fd = c.fd
CROSS JOIN a.files xa ON xa.id = fa.file_id
LEFT JOIN b.fds fb ON fb.checkpoint_id = :b AND fb.fdtable_id = p.b_object AND fb.fd = c.fd
LEFT JOIN b.files xb ON xb.id = fb.file_id;

-- name: fds_added
-- The (fd table, fd) keys of B not in A, merged from the two covering (checkpoint_id, fdtable_id, fd) indexes.
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT c.tab, c.fd, 'added', 0, NULL, fb.id
FROM (
  SELECT p.id AS tab, f.fd FROM diff_tables p CROSS JOIN b.fds f ON f.checkpoint_id = :b AND f.fdtable_id = p.b_object WHERE p.kind = 'fdtable'
  EXCEPT
  SELECT p.id, f.fd FROM diff_tables p CROSS JOIN a.fds f ON f.checkpoint_id = :a AND f.fdtable_id = p.a_object WHERE p.kind = 'fdtable'
  ORDER BY 1, 2
) c
CROSS JOIN diff_tables p ON p.id = c.tab
CROSS JOIN b.fds fb ON fb.checkpoint_id = :b AND fb.fdtable_id = p.b_object AND fb.fd = c.fd;

-- name: fill_holders
-- Per side. Each fd whose open file more than one fd shares (the partial index of
-- 0004_diff finds those files), once per process holding its fd table, and whether the
-- same fd, same table and number, exists in the other checkpoint.
INSERT INTO diff_holders (side, file_id, tab, fd, common)
SELECT '{side}', d.file_id, p.id, d.fd,
       EXISTS (SELECT 1 FROM {other}.fds x WHERE x.checkpoint_id = :{other} AND x.fdtable_id = p.{other}_object AND x.fd = d.fd)
FROM {side}.shared_objects o
JOIN {side}.fds d ON d.checkpoint_id = :{side} AND d.file_id = o.id
JOIN diff_tables p ON p.{side}_object = d.fdtable_id AND p.kind = 'fdtable'
WHERE o.checkpoint_id = :{side} AND o.kind = 'file' AND o.refcount > 1;

-- name: fill_shares
INSERT INTO diff_shares (side, file_id, holders, common)
SELECT h.side, h.file_id,
       group_concat(p.pid || coalesce('/' || t.thread, '') || ':' || h.fd, ',' ORDER BY p.pid, t.thread, h.fd),
       group_concat(iif(h.common, h.tab || ':' || h.fd, NULL), ',' ORDER BY h.tab, h.fd)
FROM diff_holders h JOIN diff_tables t ON t.id = h.tab JOIN diff_procs p ON p.id = t.proc
GROUP BY h.side, h.file_id;

-- name: fill_details
-- Per side. The details of each anonymous file (0005_file_details) as one JSON object
-- by kind, for the fds pass to compare: a timerfd's clock, flags and interval, not its
-- ticks and time left, which move with the clock; a tty's kind, number, role and
-- device, its pair being those of the same number.
INSERT INTO diff_details (side, file_id, details)
SELECT '{side}', file_id, json_group_object(kind, json(value))
FROM (
  SELECT file_id, 'eventfd' AS kind, json_object('counter', counter) AS value FROM {side}.file_eventfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'epoll', json_group_array(json_array(tfd, events, data, inode, dev, pos) ORDER BY seq) FROM {side}.epoll_targets WHERE checkpoint_id = :{side} GROUP BY file_id
  UNION ALL
  SELECT file_id, 'inotify', json_group_array(json_array(wd, inode, dev, mask, ignored_mask) ORDER BY wd) FROM {side}.inotify_watches WHERE checkpoint_id = :{side} GROUP BY file_id
  UNION ALL
  SELECT file_id, 'timerfd', json_object('clockid', clockid, 'settime_flags', settime_flags, 'interval_ns', interval_ns) FROM {side}.file_timerfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'signalfd', json_quote(sigmask) FROM {side}.file_signalfds WHERE checkpoint_id = :{side}
  UNION ALL
  SELECT file_id, 'tty', json_object('kind', kind, 'index', tty_index, 'role', role, 'rdev', rdev) FROM {side}.file_ttys WHERE checkpoint_id = :{side}
)
GROUP BY file_id;

-- name: fds_details_changed
-- An fd in both checkpoints whose open file's details differ (bit 11, details): only
-- the files with details are looked at.
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT p.id, fa.fd, 'changed', 1 << 11, fa.id, fb.id
FROM diff_tables p
JOIN a.fds fa ON fa.checkpoint_id = :a AND fa.fdtable_id = p.a_object
JOIN b.fds fb ON fb.checkpoint_id = :b AND fb.fdtable_id = p.b_object AND fb.fd = fa.fd
LEFT JOIN diff_details da ON da.side = 'a' AND da.file_id = fa.file_id
LEFT JOIN diff_details db ON db.side = 'b' AND db.file_id = fb.file_id
WHERE p.kind = 'fdtable' AND EXISTS (SELECT 1 FROM diff_details)
  AND (da.file_id IS NOT NULL OR db.file_id IS NOT NULL) AND da.details IS NOT db.details
ON CONFLICT (tab, fd) DO UPDATE SET mask = mask | excluded.mask;

-- name: fds_sharing_changed
-- An fd in both checkpoints whose open file is shared with another set of fds (bit 10,
-- shared_with). Only fds present in both checkpoints count: the child that ended, the
-- fd that was closed, show as themselves, not again as a change of every fd that
-- shared a file with them. An fd whose file nobody else holds shares with itself alone.
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id)
SELECT c.tab, c.fd, 'changed', 1 << 10, fa.id, fb.id
FROM (SELECT DISTINCT tab, fd FROM diff_holders WHERE common) c
JOIN diff_tables p ON p.id = c.tab
JOIN a.fds fa ON fa.checkpoint_id = :a AND fa.fdtable_id = p.a_object AND fa.fd = c.fd
JOIN b.fds fb ON fb.checkpoint_id = :b AND fb.fdtable_id = p.b_object AND fb.fd = c.fd
LEFT JOIN diff_shares sa ON sa.side = 'a' AND sa.file_id = fa.file_id
LEFT JOIN diff_shares sb ON sb.side = 'b' AND sb.file_id = fb.file_id
WHERE coalesce(sa.common, c.tab || ':' || c.fd) IS NOT coalesce(sb.common, c.tab || ':' || c.fd)
ON CONFLICT (tab, fd) DO UPDATE SET mask = mask | excluded.mask;

-- name: maps_removed_or_changed
-- The maps of every address space of diff_tables, merged as the fds are.
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id)
SELECT c.tab, c.start_addr, iif(mb.id IS NULL, 'removed', 'changed'),
  iif(mb.id IS NULL, 0,
      (ma.end_addr IS NOT mb.end_addr)
    | ((ma.perms IS NOT mb.perms) << 1)
    | ((ma.pgoff IS NOT mb.pgoff) << 2)
    | ((ma.dev IS NOT mb.dev) << 3)
    | ((ma.inode IS NOT mb.inode) << 4)
    | ((ma.path IS NOT mb.path) << 5)
    | ((ma.attrs IS NOT mb.attrs) << 6)),
  ma.id, mb.id
FROM (
  SELECT p.id AS tab, m.start_addr, m.end_addr, m.perms, m.pgoff, m.dev, m.inode, m.path, m.attrs
  FROM diff_tables p CROSS JOIN a.maps m ON m.checkpoint_id = :a AND m.mm_id = p.a_object WHERE p.kind = 'mm'
  EXCEPT
  SELECT p.id, m.start_addr, m.end_addr, m.perms, m.pgoff, m.dev, m.inode, m.path, m.attrs
  FROM diff_tables p CROSS JOIN b.maps m ON m.checkpoint_id = :b AND m.mm_id = p.b_object WHERE p.kind = 'mm'
  ORDER BY 1, 2
) c
CROSS JOIN diff_tables p ON p.id = c.tab
CROSS JOIN a.maps ma ON ma.checkpoint_id = :a AND ma.mm_id = p.a_object AND ma.start_addr = c.start_addr
LEFT JOIN b.maps mb ON mb.checkpoint_id = :b AND mb.mm_id = p.b_object AND mb.start_addr = c.start_addr;

-- name: maps_added
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id)
SELECT c.tab, c.start_addr, 'added', 0, NULL, mb.id
FROM (
  SELECT p.id AS tab, m.start_addr FROM diff_tables p CROSS JOIN b.maps m ON m.checkpoint_id = :b AND m.mm_id = p.b_object WHERE p.kind = 'mm'
  EXCEPT
  SELECT p.id, m.start_addr FROM diff_tables p CROSS JOIN a.maps m ON m.checkpoint_id = :a AND m.mm_id = p.a_object WHERE p.kind = 'mm'
  ORDER BY 1, 2
) c
CROSS JOIN diff_tables p ON p.id = c.tab
CROSS JOIN b.maps mb ON mb.checkpoint_id = :b AND mb.mm_id = p.b_object AND mb.start_addr = c.start_addr;

-- name: objects_removed_or_changed
-- Kinds whose key is a kernel identity, read in (kind, key) order from the unique
-- index and merged by EXCEPT as the fds are.
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id)
SELECT c.kind, c.key, iif(ob.id IS NULL, 'removed', 'changed'),
  iif(ob.id IS NULL, 0, (oa.refcount IS NOT ob.refcount) | ((oa.attrs IS NOT ob.attrs) << 1)),
  oa.id, ob.id
FROM (
  SELECT kind, key, refcount, attrs FROM a.shared_objects
  WHERE checkpoint_id = :a AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
  EXCEPT
  SELECT kind, key, refcount, attrs FROM b.shared_objects
  WHERE checkpoint_id = :b AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
  ORDER BY kind, key
) c
CROSS JOIN a.shared_objects oa ON oa.checkpoint_id = :a AND oa.kind = c.kind AND oa.key = c.key
LEFT JOIN b.shared_objects ob ON ob.checkpoint_id = :b AND ob.kind = c.kind AND ob.key = c.key;

-- name: objects_added
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id)
SELECT c.kind, c.key, 'added', 0, NULL, ob.id
FROM (
  SELECT kind, key FROM b.shared_objects
  WHERE checkpoint_id = :b AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
  EXCEPT
  SELECT kind, key FROM a.shared_objects
  WHERE checkpoint_id = :a AND kind IN ('anon', 'inode', 'ns', 'pipe', 'socket')
  ORDER BY kind, key
) c
CROSS JOIN b.shared_objects ob ON ob.checkpoint_id = :b AND ob.kind = c.kind AND ob.key = c.key;

-- name: sockets_changed
-- What the kernel shows of a socket in both checkpoints (bits 2-11).
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id)
SELECT oa.kind, oa.key, 'changed',
    ((sa.family IS NOT sb.family) << 2)
  | ((sa.sock_type IS NOT sb.sock_type) << 3)
  | ((sa.protocol IS NOT sb.protocol) << 4)
  | ((sa.state IS NOT sb.state) << 5)
  | ((sa.local_addr IS NOT sb.local_addr) << 6)
  | ((sa.local_port IS NOT sb.local_port) << 7)
  | ((sa.remote_addr IS NOT sb.remote_addr) << 8)
  | ((sa.remote_port IS NOT sb.remote_port) << 9)
  | ((sa.peer_ino IS NOT sb.peer_ino) << 10)
  | ((sa.attrs IS NOT sb.attrs) << 11) AS mask,
  oa.id, ob.id
FROM a.shared_objects oa
JOIN b.shared_objects ob ON ob.checkpoint_id = :b AND ob.kind = oa.kind AND ob.key = oa.key
LEFT JOIN a.sockets sa ON sa.object_id = oa.id
LEFT JOIN b.sockets sb ON sb.object_id = ob.id
WHERE oa.checkpoint_id = :a AND oa.kind = 'socket' AND mask <> 0
ON CONFLICT (kind, key) DO UPDATE SET mask = mask | excluded.mask;

-- name: images_removed_or_changed
-- Every kept file of A against the file of that name in B, modelled images too: their
-- stored bytes are those CRIU wrote, and they hold what the tables do not (registers,
-- timers, socket options), so a dump whose registers differ differs here. A change the
-- tables show (a new fd position) shows again as the image holding it; two imports of
-- one dump hold the same bytes and diff identical.
-- CRIU's record of the dump run itself, its logs (role other, *.log) and its statistics
-- (STATS: stats-dump, stats-restore), differ between any two dumps (timings, log lines)
-- and say nothing of the processes, so they are not compared: two dumps of an idle
-- workload diff identical.
-- Chunks are compared position by position (seq), by hash: differ counts the positions
-- whose chunks differ or that one side lacks. CROSS JOINs keep the chunk lists of each
-- pair outermost, read in seq order from their primary keys; pair is materialized
-- so that each image's chunks are counted once.
INSERT INTO diff_images (name, status, mask, a_id, b_id, differ)
WITH pair AS MATERIALIZED (
  SELECT ia.id AS a_id, ib.id AS b_id, ia.name, ia.kind AS a_kind, ib.kind AS b_kind, ia.role AS a_role, ib.role AS b_role,
         ia.size AS a_size, ib.size AS b_size, ia.entries AS a_entries, ib.entries AS b_entries,
         (SELECT count(*) FROM a.criu_image_chunks WHERE image_id = ia.id) AS a_chunks,
         (SELECT count(*) FROM b.criu_image_chunks WHERE image_id = ib.id) AS b_chunks
  FROM a.criu_images ia
  LEFT JOIN b.criu_images ib ON ib.checkpoint_id = :b AND ib.name = ia.name
  WHERE ia.checkpoint_id = :a AND ia.kind IS NOT 'STATS' AND NOT (ia.role = 'other' AND ia.name LIKE '%.log')
),
compared AS (
  SELECT p.a_id, count(*) AS common, sum(ha.hash = hb.hash) AS same
  FROM pair p
  CROSS JOIN a.criu_image_chunks ca ON ca.image_id = p.a_id
  CROSS JOIN b.criu_image_chunks cb ON cb.image_id = p.b_id AND cb.seq = ca.seq
  CROSS JOIN a.criu_chunks ha ON ha.id = ca.chunk_id
  CROSS JOIN b.criu_chunks hb ON hb.id = cb.chunk_id
  WHERE p.b_id IS NOT NULL
  GROUP BY p.a_id
),
counted AS (
  SELECT p.*, iif(p.b_id IS NULL, p.a_chunks, p.a_chunks + p.b_chunks - coalesce(c.common, 0) - coalesce(c.same, 0)) AS differ
  FROM pair p LEFT JOIN compared c ON c.a_id = p.a_id
)
SELECT name, iif(b_id IS NULL, 'removed', 'changed'),
  iif(b_id IS NULL, 0,
      (a_kind IS NOT b_kind)
    | ((a_role IS NOT b_role) << 1)
    | ((a_size IS NOT b_size) << 2)
    | ((a_entries IS NOT b_entries) << 3)
    | ((differ > 0) << 4)) AS mask,
  a_id, b_id, differ
FROM counted
WHERE b_id IS NULL OR mask <> 0;

-- name: images_added
INSERT INTO diff_images (name, status, mask, a_id, b_id, differ)
SELECT ib.name, 'added', 0, NULL, ib.id, (SELECT count(*) FROM b.criu_image_chunks WHERE image_id = ib.id)
FROM b.criu_images ib
WHERE ib.checkpoint_id = :b AND ib.kind IS NOT 'STATS' AND NOT (ib.role = 'other' AND ib.name LIKE '%.log')
  AND NOT EXISTS (SELECT 1 FROM a.criu_images ia WHERE ia.checkpoint_id = :a AND ia.name = ib.name);

-- name: fill_pages
-- Per side. Every dumped page of the checkpoint's processes: page k of a run at vaddr is
-- chunk seq + k of its pages image.
INSERT INTO diff_pages_{side} (pid, vaddr, run, hash)
SELECT r.pid, r.vaddr + (ic.seq - r.seq) * 4096, r.vaddr, c.hash
FROM {side}.criu_page_runs r
CROSS JOIN {side}.criu_image_chunks ic ON ic.image_id = r.image_id AND ic.seq >= r.seq AND ic.seq < r.seq + r.nr_pages
CROSS JOIN {side}.criu_chunks c ON c.id = ic.chunk_id
WHERE r.checkpoint_id = :{side};

-- name: fill_page_areas
-- Per side. The map of its process's own address space each run of pages starts in.
INSERT INTO diff_page_areas (side, pid, run, tab, start_addr)
SELECT '{side}', r.pid, r.vaddr, t.id, m.start_addr
FROM {side}.criu_page_runs r
JOIN diff_procs p ON p.pid = r.pid AND p.{side}_task IS NOT NULL
JOIN diff_tables t ON t.proc = p.id AND t.kind = 'mm' AND t.thread IS NULL
JOIN {side}.maps m ON m.checkpoint_id = :{side} AND m.mm_id = t.{side}_object AND m.start_addr <= printf('%016x', r.vaddr) AND m.end_addr > printf('%016x', r.vaddr)
WHERE r.checkpoint_id = :{side};

-- name: maps_pages_changed
-- The maps of both sides whose pages differ: a page whose hash differs, or that one side
-- dumped and the other did not. A page is counted in the map of A that holds it, a page
-- only B dumped in the map of B.
WITH differ AS (
  SELECT 'a' AS side, x.pid, x.run FROM diff_pages_a x
  LEFT JOIN diff_pages_b y ON y.pid = x.pid AND y.vaddr = x.vaddr
  WHERE y.hash IS NOT x.hash
  UNION ALL
  SELECT 'b', y.pid, y.run FROM diff_pages_b y
  WHERE NOT EXISTS (SELECT 1 FROM diff_pages_a x WHERE x.pid = y.pid AND x.vaddr = y.vaddr)
),
per_area AS (
  SELECT ar.tab, ar.start_addr, count(*) AS n
  FROM differ d JOIN diff_page_areas ar ON ar.side = d.side AND ar.pid = d.pid AND ar.run = d.run
  GROUP BY ar.tab, ar.start_addr
)
INSERT INTO diff_maps (tab, start_addr, status, mask, a_id, b_id, pages)
SELECT pa.tab, pa.start_addr, 'changed', 1 << 7, ma.id, mb.id, pa.n
FROM per_area pa
JOIN diff_tables t ON t.id = pa.tab
JOIN a.maps ma ON ma.checkpoint_id = :a AND ma.mm_id = t.a_object AND ma.start_addr = pa.start_addr
JOIN b.maps mb ON mb.checkpoint_id = :b AND mb.mm_id = t.b_object AND mb.start_addr = pa.start_addr
WHERE true
ON CONFLICT (tab, start_addr) DO UPDATE SET mask = mask | excluded.mask, pages = excluded.pages;

-- name: maps_pages_of_added_or_removed
-- Per side: the dumped pages of a map only this side has, where the checkpoint keeps memory.
UPDATE diff_maps SET pages = (
  SELECT count(*) FROM diff_pages_{side} x
  JOIN diff_page_areas ar ON ar.side = '{side}' AND ar.pid = x.pid AND ar.run = x.run
  WHERE ar.tab = diff_maps.tab AND ar.start_addr = diff_maps.start_addr
)
WHERE status = iif('{side}' = 'a', 'removed', 'added')
  AND EXISTS (SELECT 1 FROM {side}.criu_page_runs WHERE checkpoint_id = :{side});

-- name: drop_ignored
-- Changes in ignored fields only. Each parameter is the mask of a kind's compared fields.
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
-- Processes with a change, in order; in_a / in_b: whether it has tasks on that side.
SELECT p.id, p.pid, p.start_time, coalesce(tb.comm, ta.comm) AS comm,
       EXISTS (SELECT 1 FROM diff_task_facts f WHERE f.side = 'a' AND f.proc = p.id) AS in_a,
       EXISTS (SELECT 1 FROM diff_task_facts f WHERE f.side = 'b' AND f.proc = p.id) AS in_b
FROM diff_procs p
LEFT JOIN a.tasks ta ON ta.id = p.a_task
LEFT JOIN b.tasks tb ON tb.id = p.b_task
WHERE p.id IN (
  SELECT proc FROM diff_tasks
  UNION SELECT t.proc FROM diff_fds d JOIN diff_tables t ON t.id = d.tab
  UNION SELECT t.proc FROM diff_maps d JOIN diff_tables t ON t.id = d.tab
)
ORDER BY p.id;

-- name: read_tasks
-- The differences with both sides' values, in process order; of one status when
-- :status is not NULL.
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
LEFT JOIN a.tasks ta ON ta.id = d.a_id
LEFT JOIN diff_task_facts fa ON fa.side = 'a' AND fa.task_id = d.a_id
LEFT JOIN b.tasks tb ON tb.id = d.b_id
LEFT JOIN diff_task_facts fb ON fb.side = 'b' AND fb.task_id = d.b_id
WHERE :status IS NULL OR d.status = :status
ORDER BY d.proc, d.pid, d.start_time;

-- name: read_fds
-- thread, thread_start: the owner of a thread's own fd table (NULL for the process's).
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
LEFT JOIN a.fds fa ON fa.id = d.a_id
LEFT JOIN a.files xa ON xa.id = fa.file_id
LEFT JOIN diff_shares sa ON sa.side = 'a' AND sa.file_id = fa.file_id
LEFT JOIN b.fds fb ON fb.id = d.b_id
LEFT JOIN b.files xb ON xb.id = fb.file_id
LEFT JOIN diff_shares sb ON sb.side = 'b' AND sb.file_id = fb.file_id
LEFT JOIN diff_details da ON da.side = 'a' AND da.file_id = fa.file_id
LEFT JOIN diff_details db ON db.side = 'b' AND db.file_id = fb.file_id
WHERE :status IS NULL OR d.status = :status
ORDER BY d.tab, d.fd;

-- name: read_maps
-- pages: of a changed map the new value (the old is NULL), of an added or removed one its side's.
SELECT t.proc, p.pid, p.start_time, t.thread, t.thread_start, d.start_addr AS start, d.status, d.mask,
  ma.end_addr AS a_end, ma.perms AS a_perms, ma.pgoff AS a_pgoff, ma.dev AS a_dev, ma.inode AS a_inode,
  ma.path AS a_path, ma.attrs AS a_attrs, iif(d.status = 'removed', d.pages, NULL) AS a_pages,
  mb.end_addr AS b_end, mb.perms AS b_perms, mb.pgoff AS b_pgoff, mb.dev AS b_dev, mb.inode AS b_inode,
  mb.path AS b_path, mb.attrs AS b_attrs, iif(d.status = 'removed', NULL, d.pages) AS b_pages
FROM diff_maps d
JOIN diff_tables t ON t.id = d.tab
JOIN diff_procs p ON p.id = t.proc
LEFT JOIN a.maps ma ON ma.id = d.a_id
LEFT JOIN b.maps mb ON mb.id = d.b_id
WHERE :status IS NULL OR d.status = :status
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
LEFT JOIN a.shared_objects oa ON oa.id = d.a_id
LEFT JOIN a.sockets sa ON sa.object_id = d.a_id
LEFT JOIN b.shared_objects ob ON ob.id = d.b_id
LEFT JOIN b.sockets sb ON sb.object_id = d.b_id
WHERE :status IS NULL OR d.status = :status
ORDER BY d.kind, d.key;

-- name: read_images
-- content: the chunks that differ, on the side an added or removed image is on, and
-- as the new value of a changed one (its old value is NULL).
SELECT d.name, d.status, d.mask,
  ia.kind AS a_kind, ia.role AS a_role, ia.size AS a_size, ia.entries AS a_entries,
  iif(d.status = 'removed', d.differ, NULL) AS a_content,
  ib.kind AS b_kind, ib.role AS b_role, ib.size AS b_size, ib.entries AS b_entries,
  iif(d.status = 'removed', NULL, d.differ) AS b_content
FROM diff_images d
LEFT JOIN a.criu_images ia ON ia.id = d.a_id
LEFT JOIN b.criu_images ib ON ib.id = d.b_id
WHERE :status IS NULL OR d.status = :status
ORDER BY d.name;

-- name: checkpoint_ref
-- Per side.
SELECT id AS checkpoint, label, source, started_at FROM {side}.checkpoints WHERE id = :id;

-- name: fds_in_a
-- How large the diff is: the fds of checkpoint A.
SELECT count(*) FROM a.fds WHERE checkpoint_id = :a;

-- name: dump_fds
-- The differences one connection found, to hand to another.
SELECT tab, fd, status, mask, a_id, b_id FROM diff_fds;

-- name: dump_objects
SELECT kind, key, status, mask, a_id, b_id FROM diff_objects;

-- name: load_fds
INSERT INTO diff_fds (tab, fd, status, mask, a_id, b_id) VALUES (?, ?, ?, ?, ?, ?);

-- name: load_objects
INSERT INTO diff_objects (kind, key, status, mask, a_id, b_id) VALUES (?, ?, ?, ?, ?, ?);
