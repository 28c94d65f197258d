-- name: process_tree
-- description: The process tree, depth first from each root, parents before children, with thread counts and command lines.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the subtree under this process
-- param: limit = -1  at most this many processes; -1 for all
-- text: state_text(state)
--
-- A root is a process whose parent is not in the checkpoint (or the given pid).
-- depth is 0 for a root; sort_key orders the rows depth first, children by pid.
-- Depth stops at 4096, so a pid loop in a damaged store cannot run away.
WITH RECURSIVE tree (pid, depth, sort_key) AS (
  SELECT p.pid, 0, printf('%010d', p.pid)
  FROM processes p
  WHERE p.checkpoint_id = :checkpoint
    AND CASE WHEN :pid IS NULL
             THEN NOT EXISTS (SELECT 1 FROM tasks q WHERE q.checkpoint_id = p.checkpoint_id AND q.pid = p.ppid AND q.pid = q.tgid)
             ELSE p.pid = :pid END
  UNION ALL
  SELECT c.pid, t.depth + 1, t.sort_key || '/' || printf('%010d', c.pid)
  -- CROSS JOIN keeps the order: each parent's children by index, never a scan per parent
  FROM tree t
  CROSS JOIN tasks c ON c.checkpoint_id = :checkpoint AND c.ppid = t.pid AND c.pid = c.tgid
  WHERE t.depth < 4096
)
SELECT p.pid, p.ppid, t.depth, p.comm, p.threads, p.state, p.uid, p.command, p.cmdline
FROM tree t
CROSS JOIN processes p ON p.checkpoint_id = :checkpoint AND p.pid = t.pid
ORDER BY t.sort_key
LIMIT :limit;
