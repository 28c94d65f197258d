/**
 * Stored images written back out as files, as export and restore need them: small ones
 * at once on this thread, large ones (a process's pages) by worker threads, a range of
 * chunks each, while this thread goes on with the rest. Reading packs out of SQLite and
 * writing them are both about a core's worth of work per GiB: two cores halve it.
 */
import { closeSync, existsSync, openSync, constants as fsc } from 'node:fs';
import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { ChunkPool } from './chunkPool.js';
import { writeChunks } from './chunkFile.js';
import { CHUNK_SIZE, ChunkReader } from './chunks.js';

/** Images at least this large are written by workers: below it, starting them (about 0.1 s) costs more than they save. */
const PARALLEL_IMAGE = 64 << 20;
/** Chunks a worker writes at once (64 MiB): the ranges of a large image spread over every worker. */
const RANGE = 16384;

export interface ImageToWrite {
  id: number;
  name: string;
  size: number;
}

export class ImageFiles {
  private pool: ChunkPool | null | undefined;
  private readonly reader: ChunkReader;

  /** dbPath: the store's file, which workers open read-only; without it, every image is written on this thread. */
  constructor(private readonly db: Database.Database, private readonly dbPath: string | null) {
    this.reader = new ChunkReader(db);
  }

  /**
   * Writes an image into a new file at path, only its owner may read (it can hold a
   * process's memory); resolves to its size once the file is complete.
   */
  async write(image: ImageToWrite, path: string): Promise<number> {
    const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    let pool: ChunkPool | null = null;
    try {
      pool = image.size >= PARALLEL_IMAGE ? this.workers() : null;
      if (!pool) return writeChunks(fd, this.reader.image(image.id));
    } finally {
      closeSync(fd);
    }
    const chunks = Math.ceil(image.size / CHUNK_SIZE);
    const ranges: Promise<number>[] = [];
    for (let from = 0; from < chunks; from += RANGE) ranges.push(pool.write(image.id, from, Math.min(from + RANGE, chunks), path, from * CHUNK_SIZE));
    const bytes = (await Promise.all(ranges)).reduce((a, b) => a + b, 0);
    if (bytes !== image.size) throw new CkptdbError('STORE_CORRUPT', `image ${image.name} (${image.id}) holds ${bytes} bytes of chunks, not its ${image.size}`, 'run `ckptdb verify`');
    return bytes;
  }

  /** Ends the workers. */
  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }

  /** The workers, started for the first large image; none inside a transaction, whose rows their connections cannot see. */
  private workers(): ChunkPool | null {
    if (this.db.inTransaction || !this.dbPath || !existsSync(this.dbPath)) return null;
    if (this.pool === undefined) this.pool = ChunkPool.open(this.dbPath);
    return this.pool;
  }
}
