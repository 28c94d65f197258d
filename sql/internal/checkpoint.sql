-- Statements of checkpoint and restore (src/checkpoint/).

-- name: checkpoint_processes
-- The processes of a checkpoint: what a restore must fork again with the same pids.
SELECT pid, comm FROM tasks WHERE checkpoint_id = :checkpoint_id AND pid = tgid ORDER BY pid;
