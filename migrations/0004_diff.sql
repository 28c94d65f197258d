-- 0004_diff: what the diff of two checkpoints needs to find sharing quickly.
--
-- The objects that more than one reference points to (refcount > 1): an open file
-- shared by several fds, an inode behind several open files. They are few beside the
-- objects of a checkpoint, so this partial index stays small, and the diff finds the
-- shared open files of a checkpoint without reading all of its files.
CREATE INDEX shared_objects_shared ON shared_objects (checkpoint_id, kind) WHERE refcount > 1;
