-- Statements of the checkpoint writer (src/capture/writer.ts), prepared once per
-- checkpoint. Parameters are positional: the writer binds them on the hot path.

-- name: insert_checkpoint
INSERT INTO checkpoints (label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: finish_checkpoint
UPDATE checkpoints SET finished_at = ?, frozen = ?, meta = ? WHERE id = ?;

-- name: max_object_id
SELECT coalesce(max(id), 0) FROM shared_objects;

-- name: insert_object
-- The writer gives the ids (it holds the write lock) and inserts each object once,
-- with the references counted while it waited to be inserted.
INSERT INTO shared_objects (id, checkpoint_id, kind, key, refcount, inferred, attrs)
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
INSERT INTO files (id, checkpoint_id, type, path, pos, flags, mode, mnt_id, dev, inode, deleted, object_id, unreadable, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_task
INSERT OR IGNORE INTO tasks (
  checkpoint_id, pid, tgid, ppid, pgid, sid, state, comm,
  uid, euid, suid, fsuid, gid, egid, sgid, fsgid,
  cmdline, exe, cwd, root, start_time,
  sig_pending, sig_blocked, sig_ignored, sig_caught, env,
  mm_id, fdtable_id, fs_id, sighand_id, unreadable, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: find_task
SELECT id FROM tasks WHERE checkpoint_id = ? AND pid = ?;

-- name: insert_namespace
INSERT INTO task_namespaces (checkpoint_id, task_id, type, ns_id) VALUES (?, ?, ?, ?);

-- name: insert_rlimit
INSERT INTO task_rlimits (checkpoint_id, task_id, resource, soft, hard) VALUES (?, ?, ?, ?, ?);

-- name: insert_fd
INSERT OR IGNORE INTO fds (checkpoint_id, fdtable_id, fd, cloexec, file_id) VALUES (?, ?, ?, ?, ?);

-- name: find_fd
SELECT id FROM fds WHERE fdtable_id = ? AND fd = ?;

-- name: insert_map
INSERT OR IGNORE INTO maps (checkpoint_id, mm_id, start_addr, end_addr, perms, pgoff, dev, inode, path, attrs)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: find_map
SELECT id FROM maps WHERE mm_id = ? AND start_addr = ?;

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
