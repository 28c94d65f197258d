-- Statements of `ckptdb push` (src/store/postgres/push.ts) on the local SQLite store:
-- what it copies to PostgreSQL. The rows of each table are read by checkpoint_id with
-- the columns PostgreSQL's table has.

-- name: local_checkpoints
SELECT id, uuid, label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta
FROM checkpoints ORDER BY id;

-- name: count_rows
-- What a push of the checkpoint copies, for its progress.
SELECT (SELECT count(*) FROM shared_objects WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM files WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM tasks WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM fds WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM maps WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM sockets WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM task_namespaces WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM task_rlimits WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM criu_images WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM criu_page_runs WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM file_eventfds WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM epoll_targets WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM inotify_watches WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM file_timerfds WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM file_signalfds WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM file_ttys WHERE checkpoint_id = :id)
     + (SELECT count(*) FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = :id);

-- name: images
SELECT id, name FROM criu_images WHERE checkpoint_id = :id ORDER BY id;

-- name: chunks_of_image
SELECT c.id, c.hash FROM criu_image_chunks ic JOIN criu_chunks c ON c.id = ic.chunk_id WHERE ic.image_id = :image_id ORDER BY ic.seq;

-- name: image_chunks
-- Every chunk of every file, by hash: PostgreSQL names chunks by their SHA-256.
SELECT ic.image_id, ic.seq, c.hash, c.size
FROM criu_images i
JOIN criu_image_chunks ic ON ic.image_id = i.id
JOIN criu_chunks c ON c.id = ic.chunk_id
WHERE i.checkpoint_id = :id
ORDER BY ic.image_id, ic.seq;
