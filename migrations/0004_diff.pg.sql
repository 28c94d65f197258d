-- 0004_diff, the PostgreSQL form of 0004_diff.sql.
CREATE INDEX shared_objects_shared ON shared_objects (checkpoint_id, kind) WHERE refcount > 1;
