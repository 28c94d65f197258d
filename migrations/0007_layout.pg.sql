-- 0007_layout, the PostgreSQL form of 0007_layout.sql: the indexes nothing reads.
--
-- SQLite's 0007 leads every key and index with checkpoint_id, so that one checkpoint
-- is one range of each, and rebuilds fds, maps, task_namespaces and task_rlimits for
-- it. The fleet store has had those keys since 0001_init.pg.sql: every primary and
-- unique key there leads with checkpoint_id, as a store sharded by checkpoint (Citus)
-- needs, and every view joins on it. What is left to do here is what 0007 does besides:
-- drop the indexes no query reads, each covered by a key or index that starts with the
-- same columns.
--
--   files_checkpoint (checkpoint_id, type): files_object and the primary key start
--     with checkpoint_id; no query selects files by type alone.
--   tasks_tgid (checkpoint_id, tgid): tasks_tgid_fdtable starts with it.
--   tasks_fdtable (checkpoint_id, fdtable_id): tasks_fdtable_holder starts with it.

DROP INDEX files_checkpoint;
DROP INDEX tasks_tgid;
DROP INDEX tasks_fdtable;
