-- 0006_chunk_packs, the PostgreSQL form of 0006_chunk_packs.sql: the page index of CRIU
-- checkpoints.
--
-- SQLite's packs are not made here. They are the layout of one store: chunks numbered by
-- that store, written together as one import met them. A fleet store names each chunk
-- by its SHA-256 and holds it once for every host (0003_criu.pg.sql), so that two hosts
-- pushing the same page store it once; a pack of one host would hold pages another host
-- already pushed. Chunks stay one row each, and PostgreSQL compresses each one itself
-- (a 4 KiB value is past its TOAST threshold), with lz4 where the server was built with
-- it, the faster of its two codecs. Push reads chunks out of the local packs, pull
-- writes them into packs of the local store.
--
-- SQLite drops refcounts and their triggers here; the fleet store never had them.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE criu_chunks ALTER COLUMN data SET COMPRESSION lz4;
  END IF;
END
$$;

-- The memory of each process of a CRIU checkpoint: a run of pages at vaddr (nr_pages
-- pages of 4 KiB) is pages seq .. seq + nr_pages - 1 of image image_id (its pages-N.img),
-- as the process's pagemap says. It goes with every push: it says where memory was
-- dumped, not what it held, and the hashes of the pages (criu_image_chunks) go too, so
-- diff counts the pages that changed per map also where the pages stayed on their host.
-- image_id refers to criu_images (checkpoint_id, id), checked as the other references
-- are (sql/internal/postgres/references.sql).
CREATE TABLE criu_page_runs (
  checkpoint_id bigint  NOT NULL,
  pid           bigint  NOT NULL,
  vaddr         bigint  NOT NULL,
  nr_pages      bigint  NOT NULL CHECK (nr_pages > 0),
  image_id      bigint  NOT NULL,
  seq           bigint  NOT NULL,
  PRIMARY KEY (checkpoint_id, pid, vaddr)
);
