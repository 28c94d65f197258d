-- 0003_criu, the PostgreSQL form of 0003_criu.sql: the files of CRIU image directories.
--
-- Chunks are named by their SHA-256 here, not by a row id: a checkpoint's image
-- chunks list the hashes of its bytes, and criu_chunks holds the bytes of those that
-- were pushed. Pages stay on their host unless pushed with --with-pages (they hold
-- process memory), so an image chunk may name a hash that criu_chunks does not hold;
-- size keeps what each chunk weighs all the same. Every chunk is held once, whichever
-- checkpoints and hosts hold it (a distributed PostgreSQL shards criu_chunks by hash,
-- everything else by checkpoint_id). A fleet store only grows: nothing here deletes.

CREATE TABLE criu_chunks (
  hash          bytea   PRIMARY KEY,            -- SHA-256 of data
  data          bytea   NOT NULL
);

CREATE TABLE criu_images (
  checkpoint_id bigint  NOT NULL,
  id            bigint  NOT NULL,
  name          text COLLATE "C" NOT NULL,
  kind          text COLLATE "C",
  role          text COLLATE "C" NOT NULL CHECK (role IN ('modelled', 'stored', 'raw', 'other', 'container')),
  head_magic    bigint,
  size          bigint  NOT NULL,
  entries       bigint,
  PRIMARY KEY (checkpoint_id, id),
  UNIQUE (checkpoint_id, name)
);

CREATE TABLE criu_image_chunks (
  checkpoint_id bigint  NOT NULL,
  image_id      bigint  NOT NULL,
  seq           bigint  NOT NULL,
  hash          bytea   NOT NULL,               -- the chunk's SHA-256: criu_chunks.hash
  size          integer NOT NULL,               -- its bytes
  PRIMARY KEY (checkpoint_id, image_id, seq)
);
CREATE INDEX criu_image_chunks_hash ON criu_image_chunks (hash);
