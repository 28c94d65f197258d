-- Statements of mem (src/query/mem.ts).

-- name: process_maps
-- The memory maps of a process: those of the address space its main thread holds.
SELECT m.start_addr, m.end_addr, m.perms, m.pgoff, m.path
FROM tasks t JOIN maps m ON m.checkpoint_id = t.checkpoint_id AND m.mm_id = t.mm_id
WHERE t.checkpoint_id = :checkpoint_id AND t.pid = :pid
ORDER BY m.start_addr;

-- name: checkpoint_source
SELECT source FROM checkpoints WHERE id = :checkpoint_id;
