-- name: process_tree
-- description: The process tree, depth first from each root, parents before children, with thread counts and command lines.
-- param: checkpoint = newest  the checkpoint to read
-- param: pid?  only the subtree under this process
-- param: limit = -1  at most this many processes; -1 for all
-- text: state_text(state)
--
-- A root is a process whose parent is not in the checkpoint (or the given pid).
-- depth is 0 for a root; sort_key orders the rows depth first, children by pid: the
-- pids on the way down, each as 11 digits (10^10 + pid), so that text order is tree order.
-- Depth stops at 4096, so a pid loop in a damaged store cannot run away.
WITH RECURSIVE tree (pid, depth, sort_key) AS (
  SELECT p.pid, 0, CAST(10000000000 + p.pid AS TEXT)
  FROM processes p
  WHERE p.checkpoint_id = :checkpoint
    AND CASE WHEN :pid IS NULL
             THEN NOT EXISTS (SELECT 1 FROM tasks q WHERE q.checkpoint_id = p.checkpoint_id AND q.pid = p.ppid AND q.pid = q.tgid)
             ELSE p.pid = :pid END
  UNION ALL
  SELECT c.pid, tree.depth + 1, tree.sort_key || CAST(10000000000 + c.pid AS TEXT)
  -- CROSS JOIN keeps the order: each parent's children by index, never a scan per parent
  FROM tree
  CROSS JOIN tasks c
  WHERE c.checkpoint_id = :checkpoint AND c.ppid = tree.pid AND c.pid = c.tgid AND tree.depth < 4096
)
SELECT p.pid, p.ppid, tree.depth, p.comm, p.threads, p.state, p.uid, p.command, p.cmdline
FROM tree
CROSS JOIN processes p
WHERE p.checkpoint_id = :checkpoint AND p.pid = tree.pid
ORDER BY tree.sort_key
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
