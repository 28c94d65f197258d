-- 0008_fleet: what a checkpoint needs to leave its store: a global identity.
--
-- uuid names a checkpoint in every store it is copied to (`ckptdb push` to PostgreSQL,
-- `ckptdb pull` back), where its integer id is local: a push of a checkpoint the other
-- store already holds does nothing. The writer gives one to every new checkpoint;
-- checkpoints written before this version get a random one (version 4) here.

ALTER TABLE checkpoints ADD COLUMN uuid TEXT;

UPDATE checkpoints SET uuid = (
  SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-'
         || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12)
  -- correlated with the row, so that each row draws its own
  FROM (SELECT lower(hex(randomblob(16))) AS h WHERE checkpoints.id IS NOT NULL)
);

CREATE UNIQUE INDEX checkpoints_uuid ON checkpoints (uuid);
-- The fleet questions ask per host: the newest checkpoint of a host is one index range.
CREATE INDEX checkpoints_host ON checkpoints (host, started_at);
