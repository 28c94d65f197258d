-- Statements of the checkpoint writer (src/store/writer/), prepared once per
-- checkpoint. Parameters are positional: the writer binds them on the hot path.
--
-- The writer gives every row its id: one above the largest in its table when the
-- checkpoint begins (it holds the write lock), then one more per row. A checkpoint's
-- rows are so one run of ids per table, in the order they were added. The inserts
-- marked "batched" take one row here; the writer repeats their VALUES to write many
-- rows a statement (rowBatch.ts). They say OR FAIL: a statement of many rows that may
-- abort halfway would otherwise keep a journal of every page it changes, to undo its
-- own rows (measured: it costs most of what batching gains); the writer rolls back the
-- whole checkpoint on any error anyway.

-- name: insert_checkpoint
INSERT INTO checkpoints (label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta, uuid)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: finish_checkpoint
UPDATE checkpoints SET finished_at = ?, frozen = ?, meta = ? WHERE id = ?;

-- name: max_object_id
SELECT coalesce(max(id), 0) FROM shared_objects;

-- name: max_task_id
SELECT coalesce(max(id), 0) FROM tasks;

-- name: max_fd_id
SELECT coalesce(max(id), 0) FROM fds;

-- name: max_map_id
SELECT coalesce(max(id), 0) FROM maps;

-- name: insert_object
-- Batched. Each object is inserted once, with the references counted while it waited.
INSERT OR FAIL INTO shared_objects (id, checkpoint_id, kind, key, refcount, inferred, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: find_object
SELECT id FROM shared_objects WHERE checkpoint_id = ? AND kind = ? AND key = ?;

-- name: object_kind
SELECT kind FROM shared_objects WHERE id = ? AND checkpoint_id = ?;

-- name: mark_inferred
UPDATE shared_objects SET inferred = 1 WHERE id = ? AND checkpoint_id = ?;

-- name: add_refs
UPDATE shared_objects SET refcount = refcount + ? WHERE id = ?;

-- name: add_one_ref_each
-- One more reference to each object of a JSON array of ids.
UPDATE shared_objects SET refcount = refcount + 1 WHERE id IN (SELECT value FROM json_each(?));

-- name: insert_file
-- At once, not batched: an importer may read a file it added back before done().
INSERT INTO files (id, checkpoint_id, type, path, pos, flags, mode, mnt_id, dev, inode, deleted, object_id, unreadable, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_task
INSERT OR IGNORE INTO tasks (
  id, checkpoint_id, pid, tgid, ppid, pgid, sid, state, comm,
  uid, euid, suid, fsuid, gid, egid, sgid, fsgid,
  cmdline, exe, cwd, root, start_time,
  sig_pending, sig_blocked, sig_ignored, sig_caught, env,
  mm_id, fdtable_id, fs_id, sighand_id, unreadable, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: find_task
SELECT id FROM tasks WHERE checkpoint_id = ? AND pid = ?;

-- name: insert_namespace
-- Batched.
INSERT OR FAIL INTO task_namespaces (checkpoint_id, task_id, type, ns_id) VALUES (?, ?, ?, ?);

-- name: insert_rlimit
-- Batched.
INSERT OR FAIL INTO task_rlimits (checkpoint_id, task_id, resource, soft, hard) VALUES (?, ?, ?, ?, ?);

-- name: insert_fd
-- Batched.
INSERT OR FAIL INTO fds (id, checkpoint_id, fdtable_id, fd, cloexec, file_id) VALUES (?, ?, ?, ?, ?, ?);

-- name: find_fd
SELECT id FROM fds WHERE checkpoint_id = ? AND fdtable_id = ? AND fd = ?;

-- name: insert_map
-- Batched.
INSERT OR FAIL INTO maps (id, checkpoint_id, mm_id, start_addr, end_addr, perms, pgoff, dev, inode, path, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: find_map
SELECT id FROM maps WHERE checkpoint_id = ? AND mm_id = ? AND start_addr = ?;

-- name: insert_socket
INSERT OR IGNORE INTO sockets (object_id, checkpoint_id, family, sock_type, protocol, state,
  local_addr, local_port, remote_addr, remote_port, peer_ino, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_eventfd
INSERT OR IGNORE INTO file_eventfds (checkpoint_id, file_id, counter) VALUES (?, ?, ?);

-- name: insert_epoll_target
INSERT OR IGNORE INTO epoll_targets (checkpoint_id, file_id, seq, tfd, events, data, inode, dev, pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_inotify_watch
INSERT OR IGNORE INTO inotify_watches (checkpoint_id, file_id, wd, inode, dev, mask, ignored_mask)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert_timerfd
INSERT OR IGNORE INTO file_timerfds (checkpoint_id, file_id, clockid, ticks, settime_flags, interval_ns, value_ns)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert_signalfd
INSERT OR IGNORE INTO file_signalfds (checkpoint_id, file_id, sigmask) VALUES (?, ?, ?);

-- name: insert_tty
INSERT OR IGNORE INTO file_ttys (checkpoint_id, file_id, kind, tty_index, role, rdev, peer_file_id)
VALUES (?, ?, ?, ?, ?, ?, ?);
