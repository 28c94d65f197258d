-- 0006_chunk_packs: chunk bytes compressed together in packs, and the page index of
-- CRIU checkpoints.
--
-- A chunk is still one 4 KiB piece of a file, found by its SHA-256 and stored once in the
-- whole store. Its bytes now live in a pack: the chunks new to the store that one import
-- wrote one after another, up to 256 KiB, compressed as one zstd frame when that makes
-- them smaller (most memory does, random bytes do not). A pack's blob spans SQLite
-- overflow pages, so the store holds about the compressed bytes and no per-row slack;
-- reading a chunk decodes its pack (src/store/chunks.ts keeps a few decoded).
--
-- Chunks stored before this version become packs of one chunk, as they were.
--
-- Refcounts and their triggers are gone: they cost an UPDATE for every chunk of every
-- image written. Deleting a checkpoint drops the chunks no image refers to any more,
-- and the packs no chunk lives in, from the checkpoint's own list of chunks.

CREATE TABLE criu_packs (
  id            INTEGER PRIMARY KEY,
  codec         TEXT    NOT NULL CHECK (codec IN ('none', 'zstd')),
  size          INTEGER NOT NULL,                 -- bytes once decoded
  data          BLOB    NOT NULL
);

INSERT INTO criu_packs (id, codec, size, data) SELECT id, 'none', length(data), data FROM criu_chunks;

DROP TRIGGER criu_chunk_ref;
DROP TRIGGER criu_chunk_unref;

-- The pack is checked when the checkpoint commits: an import numbers its chunks as it
-- meets them and writes their pack once it is full and compressed.
ALTER TABLE criu_chunks ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE criu_chunks ADD COLUMN pack_id INTEGER REFERENCES criu_packs (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE criu_chunks ADD COLUMN pack_offset INTEGER NOT NULL DEFAULT 0;  -- where its bytes start in the decoded pack
UPDATE criu_chunks SET size = length(data), pack_id = id, pack_offset = 0;
ALTER TABLE criu_chunks DROP COLUMN data;
ALTER TABLE criu_chunks DROP COLUMN refcount;
CREATE INDEX criu_chunks_pack ON criu_chunks (pack_id);

-- The memory of each process of a CRIU checkpoint: a run of pages at vaddr (nr_pages
-- pages of 4 KiB) is pages seq .. seq + nr_pages - 1 of image image_id (its pages-N.img),
-- as the process's pagemap says. Runs whose pages CRIU did not write (in the parent
-- dump, lazy) are left out. Addresses are integers: user space ends below 2^57.
CREATE TABLE criu_page_runs (
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
  pid           INTEGER NOT NULL,
  vaddr         INTEGER NOT NULL,
  nr_pages      INTEGER NOT NULL CHECK (nr_pages > 0),
  image_id      INTEGER NOT NULL REFERENCES criu_images (id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,
  PRIMARY KEY (checkpoint_id, pid, vaddr)
);
