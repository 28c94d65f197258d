-- 0001_init: checkpoints, the shared objects every reference points to, tasks, fds,
-- open files, memory maps, sockets, namespaces and resource limits.
--
-- Conventions:
--   * every row carries its checkpoint_id, so one checkpoint is one WHERE away;
--   * an open file (the kernel's struct file) is a shared object of kind 'file':
--     files.id IS its shared_objects.id, so one refcount mechanism covers all sharing;
--   * shared_objects.refcount always equals the references stored (see object_refs);
--   * addresses are 16-digit lower-case hex text, so text order is address order and
--     values above 2^63 (the vsyscall page) survive;
--   * JSON lives in TEXT columns named attrs / cmdline / env / unreadable.

PRAGMA application_id = 1667985524; -- 'ckpt': marks the file as a ckptdb store

CREATE TABLE checkpoints (
  id          INTEGER PRIMARY KEY,
  label       TEXT,
  source      TEXT    NOT NULL,                 -- proc | import | criu
  host        TEXT,
  kernel      TEXT,
  root_pid    INTEGER,
  frozen      INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
  started_at  TEXT    NOT NULL,                 -- ISO 8601, UTC
  finished_at TEXT    NOT NULL,
  meta        TEXT                              -- JSON: source-specific metadata, warnings
);

-- kind: file | inode | pipe | socket | anon | mm | fdtable | fs | sighand | ns
-- key:  the object's identity on its source system: 'pipe:[4711]', '8:1:123456',
--       'net:[4026531840]', or for kcmp-found objects the first (pid, fd) that holds it.
-- A FIFO's pipe is kind 'pipe' too (every open of a FIFO shares the one pipe the kernel
-- keeps on its inode), keyed by that inode: 'fifo:8:1:123456', device and inode number,
-- or 'fifo:mnt25:123456' where the source knows only the mount id.
CREATE TABLE shared_objects (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  kind          TEXT    NOT NULL,
  key           TEXT    NOT NULL,
  refcount      INTEGER NOT NULL DEFAULT 0,
  inferred      INTEGER NOT NULL DEFAULT 0 CHECK (inferred IN (0, 1)), -- 1: sharing guessed, not asked of kcmp
  attrs         TEXT,
  UNIQUE (checkpoint_id, kind, key)
);

-- type: reg | dir | chr | blk | fifo | pipe | socket | eventfd | epoll | timerfd |
--       signalfd | inotify | fanotify | memfd | anon | unknown
-- flags: the file's status flags (O_*), without O_CLOEXEC, which belongs to the fd.
-- mode:  st_mode of what the file refers to (type and permission bits), as CRIU keeps it.
CREATE TABLE files (
  id            INTEGER PRIMARY KEY REFERENCES shared_objects (id),
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  type          TEXT    NOT NULL,
  path          TEXT,
  pos           INTEGER,
  flags         INTEGER,
  mode          INTEGER,
  mnt_id        INTEGER,
  dev           TEXT,                           -- 'major:minor' of the inode's device
  inode         INTEGER,
  deleted       INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
  object_id     INTEGER REFERENCES shared_objects (id), -- the inode / pipe / socket behind it
  unreadable    TEXT,                           -- why the kernel would not tell us more
  attrs         TEXT
);
CREATE INDEX files_checkpoint ON files (checkpoint_id, type);
CREATE INDEX files_object ON files (object_id);

-- One row per thread: pid is the thread id, tgid the process it belongs to.
-- start_time is in clock ticks after boot (field 22 of /proc/PID/stat): with pid it
-- tells a reused pid apart.
CREATE TABLE tasks (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  pid           INTEGER NOT NULL,
  tgid          INTEGER NOT NULL,
  ppid          INTEGER,
  pgid          INTEGER,
  sid           INTEGER,
  state         TEXT,
  comm          TEXT,
  uid           INTEGER,
  euid          INTEGER,
  suid          INTEGER,
  fsuid         INTEGER,
  gid           INTEGER,
  egid          INTEGER,
  sgid          INTEGER,
  fsgid         INTEGER,
  cmdline       TEXT,                           -- JSON array of arguments
  exe           TEXT,
  cwd           TEXT,
  root          TEXT,
  start_time    INTEGER,
  sig_pending   TEXT,                           -- signal masks as 16-digit hex
  sig_blocked   TEXT,
  sig_ignored   TEXT,
  sig_caught    TEXT,
  env           TEXT,                           -- JSON array of 'NAME=value'; only when asked for
  mm_id         INTEGER REFERENCES shared_objects (id),
  fdtable_id    INTEGER REFERENCES shared_objects (id),
  fs_id         INTEGER REFERENCES shared_objects (id),
  sighand_id    INTEGER REFERENCES shared_objects (id),
  unreadable    TEXT,                           -- JSON object: part -> reason
  attrs         TEXT,
  UNIQUE (checkpoint_id, pid)
);
CREATE INDEX tasks_tgid ON tasks (checkpoint_id, tgid);
CREATE INDEX tasks_ppid ON tasks (checkpoint_id, ppid);
CREATE INDEX tasks_mm ON tasks (mm_id);
CREATE INDEX tasks_fdtable ON tasks (fdtable_id);
CREATE INDEX tasks_fs ON tasks (fs_id);
CREATE INDEX tasks_sighand ON tasks (sighand_id);

-- An fd is a slot in an fd table; threads (and CLONE_FILES processes) sharing one table
-- share its fds, so they hang off the table, not off a task.
CREATE TABLE fds (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  fdtable_id    INTEGER NOT NULL REFERENCES shared_objects (id),
  fd            INTEGER NOT NULL,
  cloexec       INTEGER NOT NULL CHECK (cloexec IN (0, 1)),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  UNIQUE (fdtable_id, fd)
);
CREATE INDEX fds_checkpoint ON fds (checkpoint_id);
CREATE INDEX fds_file ON fds (file_id);

CREATE TABLE maps (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  mm_id         INTEGER NOT NULL REFERENCES shared_objects (id),
  start_addr    TEXT    NOT NULL,
  end_addr      TEXT    NOT NULL,
  perms         TEXT    NOT NULL,               -- as in /proc/PID/maps: rwxp / rwxs
  pgoff         INTEGER,
  dev           TEXT,
  inode         INTEGER,
  path          TEXT,
  attrs         TEXT,
  UNIQUE (mm_id, start_addr)
);
CREATE INDEX maps_checkpoint ON maps (checkpoint_id);

-- What the kernel shows of a socket object (kind 'socket') in /proc/net or sock_diag.
-- state is the kernel's sk_state by its TCP_* name, for every family, as ss and CRIU
-- know it: ESTABLISHED (a connected stream, a connected unix or UDP socket), LISTEN,
-- SYN_SENT, CLOSE_WAIT, ...; TCP_CLOSE (neither connected nor listening) is UNCONNECTED.
CREATE TABLE sockets (
  object_id     INTEGER PRIMARY KEY REFERENCES shared_objects (id),
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  family        TEXT,                           -- unix | inet | inet6 | netlink | packet | ...
  sock_type     TEXT,                           -- stream | dgram | seqpacket | raw | ...
  protocol      TEXT,
  state         TEXT,                           -- ESTABLISHED | LISTEN | ... | UNCONNECTED
  local_addr    TEXT,                           -- unix: the path, or '@name' for an abstract name
  local_port    INTEGER,
  remote_addr   TEXT,
  remote_port   INTEGER,
  peer_ino      INTEGER,                        -- unix: the peer socket's inode; attrs.peer = 'unknown' when not known
  attrs         TEXT
);
CREATE INDEX sockets_checkpoint ON sockets (checkpoint_id, family);

-- type: cgroup | ipc | mnt | net | pid | pid_for_children | time | time_for_children | user | uts
CREATE TABLE task_namespaces (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  task_id       INTEGER NOT NULL REFERENCES tasks (id),
  type          TEXT    NOT NULL,
  ns_id         INTEGER NOT NULL REFERENCES shared_objects (id),
  PRIMARY KEY (task_id, type)
);
CREATE INDEX task_namespaces_checkpoint ON task_namespaces (checkpoint_id);
CREATE INDEX task_namespaces_ns ON task_namespaces (ns_id);

-- soft / hard NULL means unlimited.
CREATE TABLE task_rlimits (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  task_id       INTEGER NOT NULL REFERENCES tasks (id),
  resource      TEXT    NOT NULL,               -- cpu | fsize | data | stack | core | rss | nproc | nofile | ...
  soft          INTEGER,
  hard          INTEGER,
  PRIMARY KEY (task_id, resource)
);
CREATE INDEX task_rlimits_checkpoint ON task_rlimits (checkpoint_id);

-- Every reference that a refcount counts, one row each: an fd to its file, a file to
-- the object behind it, a task to its address space, fd table, fs info, signal
-- handlers and namespaces. Containment (an fd's slot in its table, a map in its address
-- space) is not a reference: an fd table's refcount is the number of tasks sharing it,
-- as the kernel counts files_struct users.
CREATE VIEW object_refs AS
  SELECT checkpoint_id, file_id AS object_id, 'fd' AS ref_kind, id AS ref_id FROM fds
  UNION ALL
  SELECT checkpoint_id, object_id, 'file', id FROM files WHERE object_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, mm_id, 'task', id FROM tasks WHERE mm_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, fdtable_id, 'task', id FROM tasks WHERE fdtable_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, fs_id, 'task', id FROM tasks WHERE fs_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, sighand_id, 'task', id FROM tasks WHERE sighand_id IS NOT NULL
  UNION ALL
  SELECT checkpoint_id, ns_id, 'task', task_id FROM task_namespaces;
