-- 0008_fleet, the PostgreSQL form of 0008_fleet.sql: every checkpoint here came from
-- a store that named it, so its uuid is never missing.
ALTER TABLE checkpoints ADD COLUMN uuid uuid NOT NULL;
ALTER TABLE checkpoints ADD CONSTRAINT checkpoints_uuid UNIQUE (uuid);
CREATE INDEX checkpoints_host ON checkpoints (host, started_at);

-- SQLite's json_extract(doc, '$.a.b'), for the queries of sql/ that read a member of a
-- JSON column (they run on both stores): the member as text, NULL when it is missing.
CREATE FUNCTION json_extract(doc text, path text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CAST(doc AS json) #>> string_to_array(substr(path, 3), '.') $$;
