/**
 * The page index of a CRIU checkpoint (criu_page_runs): for each process, which runs of
 * its virtual memory are which pages of which pages image, from its pagemap image. With
 * it, the store reads a process's memory by address (src/store/pages.ts), and diff
 * compares memory page by page and map by map.
 */
import type Database from 'better-sqlite3';
import { statement } from '../../store/sqlFile.js';
import { ChunkReader, CHUNK_SIZE } from '../../store/chunks.js';
import { badImage, decodeMessage, readEntries, readHeader, type Entry } from './imageFile.js';
import { pagemap_entrySchema, pagemap_headSchema } from './gen/payload_pb.js';
import { inPagesFile, pageCount } from './model/memory.js';

/** A pagemap image, read into entries. */
export interface PagemapImage {
  where: string;
  entries: Entry[];
}

const PAGEMAP = /^pagemap-(\d+)\.img$/;
/** Addresses are stored as SQLite integers: user space ends far below this. */
const MAX_VADDR = 1n << 62n;

/**
 * Writes the runs of the pagemap images among images (by file name) into the checkpoint
 * being written, whose chunks are all written; returns how many.
 */
export function indexPages(db: Database.Database, checkpointId: number, images: Iterable<[string, PagemapImage]>): number {
  const insert = db.prepare(statement('internal/criu.sql', 'insert_page_run'));
  const reader = new ChunkReader(db);
  let runs = 0;
  for (const [name, img] of images) {
    const m = PAGEMAP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const [head, ...entries] = img.entries;
    if (!head) continue;
    const pages = `pages-${decodeMessage(pagemap_headSchema, head.payload, img.where, head.offset).pagesId}.img`;
    const imageId = reader.imageId(checkpointId, pages);
    let seq = 0;
    for (const e of entries) {
      const entry = decodeMessage(pagemap_entrySchema, e.payload, img.where, e.offset);
      if (!inPagesFile(entry)) continue;
      const n = pageCount(entry);
      if (n === 0) continue;
      if (imageId === null) throw badImage(img.where, e.offset, `lists pages in ${pages}, which the checkpoint does not have`);
      if (entry.vaddr % BigInt(CHUNK_SIZE) !== 0n || entry.vaddr + BigInt(n * CHUNK_SIZE) > MAX_VADDR) {
        throw badImage(img.where, e.offset, `pages at 0x${entry.vaddr.toString(16)} are not at a page boundary of user memory`);
      }
      insert.run(checkpointId, pid, entry.vaddr, n, imageId, seq);
      seq += n;
      runs++;
    }
  }
  return runs;
}

/** The pagemap images of a checkpoint as they are stored: for a checkpoint that came through a ckptdb image. */
export function* storedPagemaps(db: Database.Database, checkpointId: number, names: string[]): Generator<[string, PagemapImage]> {
  const reader = new ChunkReader(db);
  for (const name of names) {
    if (!PAGEMAP.test(name)) continue;
    const id = reader.imageId(checkpointId, name);
    if (id === null) continue;
    const bytes = Buffer.concat([...reader.image(id)]);
    const header = readHeader(bytes, name);
    yield [name, { where: name, entries: readEntries(bytes, header, name) }];
  }
}
