-- 0003_criu: the files of CRIU image directories, kept whole so that an imported
-- checkpoint exports back to the same images.
--
-- Every file of an imported directory (or container checkpoint archive) is a row of
-- criu_images; its bytes are a sequence of content-addressed chunks. Chunks are shared
-- by every image and checkpoint that holds the same bytes, so a workload checkpointed
-- again and again stores each unchanged page once. Pages files are cut at page
-- boundaries (4 KiB), everything else at the same size.
--
-- Deleting a checkpoint deletes its criu_images rows (ON DELETE CASCADE), and the
-- triggers below drop the chunks no image refers to any more.

CREATE TABLE criu_chunks (
  id            INTEGER PRIMARY KEY,
  hash          BLOB    NOT NULL UNIQUE,          -- SHA-256 of data
  data          BLOB    NOT NULL,
  refcount      INTEGER NOT NULL DEFAULT 0        -- rows of criu_image_chunks pointing here
);

-- role: modelled  - decoded into the tables; export encodes it from them
--       stored    - a CRIU image ckptdb keeps as it is (checked entry by entry on import)
--       raw       - a CRIU image without magic (pages, ip/iptables dumps, tmpfs tarballs)
--       other     - any other file of the image directory (dump.log, ...)
--       container - a file of a container checkpoint archive beside checkpoint/
--                   (config.dump, spec.dump, rootfs-diff.tar, ...)
CREATE TABLE criu_images (
  id            INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,                 -- file name in the directory, or path in the archive
  kind          TEXT,                             -- CRIU image kind (CORE, FDINFO, ...); NULL when it has no magic
  role          TEXT    NOT NULL CHECK (role IN ('modelled', 'stored', 'raw', 'other', 'container')),
  head_magic    INTEGER,                          -- IMG_COMMON / IMG_SERVICE, NULL when absent
  size          INTEGER NOT NULL,
  entries       INTEGER,                          -- protobuf entries, for images that have them
  UNIQUE (checkpoint_id, name)
);

CREATE TABLE criu_image_chunks (
  image_id      INTEGER NOT NULL REFERENCES criu_images (id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,
  chunk_id      INTEGER NOT NULL REFERENCES criu_chunks (id),
  PRIMARY KEY (image_id, seq)
) WITHOUT ROWID;
CREATE INDEX criu_image_chunks_chunk ON criu_image_chunks (chunk_id);

CREATE TRIGGER criu_chunk_ref AFTER INSERT ON criu_image_chunks BEGIN
  UPDATE criu_chunks SET refcount = refcount + 1 WHERE id = NEW.chunk_id;
END;

CREATE TRIGGER criu_chunk_unref AFTER DELETE ON criu_image_chunks BEGIN
  UPDATE criu_chunks SET refcount = refcount - 1 WHERE id = OLD.chunk_id;
  DELETE FROM criu_chunks WHERE id = OLD.chunk_id AND refcount = 0;
END;
