-- name: processes_of
-- description: The processes of one executable on every host, in its newest checkpoint: where a program runs, and how.
-- param: exe  the executable: its path (/usr/sbin/nginx) or its name (nginx)
-- param: host?  only this host
-- param: limit = 1000  at most this many rows; -1 for all
--
-- A process matches by the path of its executable, by the last part of that path, or
-- by its comm (the name the kernel shows, at most 15 characters) when the executable
-- could not be read. The newest checkpoint of a host is the one taken last
-- (newest_per_host).
WITH newest AS (
  SELECT id, host FROM (
    SELECT c.id, c.host, row_number() OVER (PARTITION BY c.host ORDER BY c.started_at DESC, c.id DESC) AS nth
    FROM checkpoints c
    WHERE :host IS NULL OR c.host = :host
  ) AS ranked
  WHERE nth = 1
)
SELECT n.host, n.id AS checkpoint, p.pid, p.ppid, p.comm, p.threads, p.uid, p.exe, p.command, p.start_time
FROM newest n
-- CROSS JOIN keeps the order: each newest checkpoint's processes by index, not every
-- process of the store matched against the newest
CROSS JOIN processes p
WHERE p.checkpoint_id = n.id AND (p.exe = :exe OR p.exe LIKE ('%/' || :exe) OR (p.exe IS NULL AND p.comm = :exe))
ORDER BY n.host NULLS FIRST, p.pid
LIMIT coalesce(nullif(:limit, -1), 9223372036854775807);
