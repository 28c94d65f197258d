-- 0005_file_details: what an anonymous file holds beyond its files row, one table per
-- kind, filled the same way by every source: a live capture reads it from
-- /proc/PID/fdinfo/N (and a tty's device numbers), a CRIU import from the file's image
-- entry. Each row belongs to the files row file_id, of its checkpoint.
--
-- Portable by design: plain INTEGER and TEXT columns, keys that start with
-- checkpoint_id, no SQLite-only types. 64-bit unsigned kernel values (counters, data
-- words, inode numbers) of 2^63 or more are stored as their two's complement, as
-- elsewhere in the store. Masks and events are the kernel's numbers; device numbers
-- are 'major:minor' text, as in files.dev.

-- file_eventfds: an eventfd's counter (fdinfo eventfd-count; CRIU eventfd_file_entry.counter).
CREATE TABLE file_eventfds (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  counter       INTEGER NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
) WITHOUT ROWID;

-- epoll_targets: the fds an epoll watches, in the order the kernel lists them (seq from
-- 0; fdinfo tfd lines, CRIU's eventpoll_tfd_entry). tfd is the fd number in the fd table
-- of the epoll's holder, events the EPOLL* mask and data the word given to epoll_ctl;
-- inode, dev and pos describe the watched file as the kernel reported it, so that a
-- target whose fd was closed or reused is still told apart.
CREATE TABLE epoll_targets (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  seq           INTEGER NOT NULL,
  tfd           INTEGER NOT NULL,
  events        INTEGER NOT NULL,
  data          INTEGER NOT NULL,
  inode         INTEGER,
  dev           TEXT,
  pos           INTEGER,
  PRIMARY KEY (checkpoint_id, file_id, seq)
) WITHOUT ROWID;

-- inotify_watches: one row per watch descriptor of an inotify file: the watched inode
-- and the device it is on, the IN_* mask, and the ignored mask (fanotify-style marks
-- keep one; inotify's is 0).
CREATE TABLE inotify_watches (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  wd            INTEGER NOT NULL,
  inode         INTEGER NOT NULL,
  dev           TEXT,
  mask          INTEGER NOT NULL,
  ignored_mask  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (checkpoint_id, file_id, wd)
) WITHOUT ROWID;
CREATE INDEX inotify_watches_inode ON inotify_watches (checkpoint_id, inode);

-- file_timerfds: a timerfd's clock (clockid: 0 realtime, 1 monotonic, 7 boottime, 8
-- realtime alarm, 9 boottime alarm), the expirations not yet read (ticks), the
-- timerfd_settime flags, the interval and the time left to the next expiry, both in
-- nanoseconds (0: none; a disarmed timer has both 0). The time left is what the kernel
-- said when the checkpoint was taken.
CREATE TABLE file_timerfds (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  clockid       INTEGER NOT NULL,
  ticks         INTEGER NOT NULL,
  settime_flags INTEGER NOT NULL,
  interval_ns   INTEGER NOT NULL,
  value_ns      INTEGER NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
) WITHOUT ROWID;

-- file_signalfds: the signals a signalfd reads, as 16 hex digits (tasks.sig_* alike).
CREATE TABLE file_signalfds (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  sigmask       TEXT    NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
) WITHOUT ROWID;

-- file_ttys: the tty an open file is on. kind: pty | console | vt | ctty | serial | other;
-- tty_index: the pty number (/dev/pts/N) or the line's minor; role: master (a /dev/ptmx
-- open) or slave for a pty, NULL for the others; rdev the device the file stands for.
-- peer_file_id links the two sides of a pty pair: a slave's is its master's file, a
-- master's the lowest of its slaves' files; NULL when the other side is not open in the
-- checkpoint.
CREATE TABLE file_ttys (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
  file_id       INTEGER NOT NULL REFERENCES files (id),
  kind          TEXT    NOT NULL,
  tty_index     INTEGER,
  role          TEXT CHECK (role IN ('master', 'slave')),
  rdev          TEXT,
  peer_file_id  INTEGER REFERENCES files (id),
  PRIMARY KEY (checkpoint_id, file_id)
) WITHOUT ROWID;
CREATE INDEX file_ttys_index ON file_ttys (checkpoint_id, kind, tty_index);
