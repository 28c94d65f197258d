-- 0005_file_details, the PostgreSQL form of 0005_file_details.sql: the same six tables
-- and columns, keyed on checkpoint_id as in SQLite. Their references (each row's file,
-- a tty's peer file) are checked when a checkpoint is pushed and by verify
-- (sql/internal/postgres/references.sql), not declared, as for every table here
-- (0001_init.pg.sql says why). Kernel values that can pass 2^31 are bigint.

CREATE TABLE file_eventfds (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  counter       bigint NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
);

CREATE TABLE epoll_targets (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  seq           bigint NOT NULL,
  tfd           bigint NOT NULL,
  events        bigint NOT NULL,
  data          bigint NOT NULL,
  inode         bigint,
  dev           text COLLATE "C",
  pos           bigint,
  PRIMARY KEY (checkpoint_id, file_id, seq)
);

CREATE TABLE inotify_watches (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  wd            bigint NOT NULL,
  inode         bigint NOT NULL,
  dev           text COLLATE "C",
  mask          bigint NOT NULL,
  ignored_mask  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (checkpoint_id, file_id, wd)
);
CREATE INDEX inotify_watches_inode ON inotify_watches (checkpoint_id, inode);

CREATE TABLE file_timerfds (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  clockid       bigint NOT NULL,
  ticks         bigint NOT NULL,
  settime_flags bigint NOT NULL,
  interval_ns   bigint NOT NULL,
  value_ns      bigint NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
);

CREATE TABLE file_signalfds (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  sigmask       text COLLATE "C" NOT NULL,
  PRIMARY KEY (checkpoint_id, file_id)
);

CREATE TABLE file_ttys (
  checkpoint_id bigint NOT NULL,
  file_id       bigint NOT NULL,
  kind          text COLLATE "C" NOT NULL,
  tty_index     bigint,
  role          text COLLATE "C" CHECK (role IN ('master', 'slave')),
  rdev          text COLLATE "C",
  peer_file_id  bigint,
  PRIMARY KEY (checkpoint_id, file_id)
);
CREATE INDEX file_ttys_index ON file_ttys (checkpoint_id, kind, tty_index);
