/**
 * Content-addressed storage of image bytes: an image is a list of chunks, each chunk
 * is stored once however many images and checkpoints hold the same bytes. Chunks are
 * cut every 4 KiB from the start of the file, which is page by page for CRIU's pages
 * files, so a checkpoint whose memory changed a little stores only the pages that did.
 *
 * A chunk is found by its SHA-256: two chunks are the same only if their bytes are,
 * which dedup across checkpoints, stores and hosts relies on. The bytes of the chunks
 * new to the store are written one after another into packs of up to 256 KiB, each
 * compressed as one zstd frame where that pays (packCodec.ts). Large files are hashed
 * and packs compressed by worker threads (chunkPool.ts) while this thread reads the
 * files and writes SQLite; memory stays within a few blocks and packs in flight.
 *
 * Readers never touch the tables' blobs: ChunkReader gives a chunk, an image's chunks
 * in order, or one of them by place, decoding packs as needed.
 */
import { hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { namedStatements, statement } from './sqlFile.js';
import { ChunkPool } from './chunkPool.js';
import { CHUNK_SIZE } from './chunkMessages.js';
import { decodePack, encodePack, type EncodedPack } from './packCodec.js';

export { CHUNK_SIZE };
/** Bytes of new chunks gathered before they are compressed and written as one pack. */
export const PACK_SIZE = 256 * 1024;

export type ImageRole = 'modelled' | 'stored' | 'raw' | 'other' | 'container';

export interface ImageRecord {
  name: string;
  kind: string | null;
  role: ImageRole;
  headMagic: number | null;
}

export interface StoredImage {
  id: number;
  name: string;
  kind: string | null;
  role: ImageRole;
  head_magic: number | null;
  size: number;
  entries: number | null;
}

export interface ChunkWriterOptions {
  /** The store's file: worker threads open it read-only to look chunks up. Without it, all work stays on this thread. */
  dbPath?: string;
  /** Called as bytes of streamed files are taken in. */
  onBytes?: (bytes: number) => void;
}

const SQL = 'internal/chunks.sql';
/** Bytes a worker hashes at once: few enough messages, little enough memory in flight. */
const BLOCK = 4 << 20;
/** Files shorter than this are hashed here: starting workers (about 0.1 s) costs more than they save. */
const POOL_THRESHOLD = 16 << 20;
/** Rows per multi-row INSERT: one call into SQLite instead of 256. */
const BATCH = 256;
/** New chunks remembered by hash; past that, they are looked up in SQLite. */
const MAX_REMEMBERED = 1 << 20;

type Stmt = Database.Statement<unknown[]>;

/** A statement of one row of VALUES repeated for n rows. */
function multiRow(db: Database.Database, sql: string, n: number): Stmt {
  const m = /^(.*VALUES\s*)(\([^)]*\))\s*;?\s*$/s.exec(sql);
  if (!m) throw new Error(`not a one-row INSERT: ${sql}`);
  return db.prepare(m[1] + Array(n).fill(m[2]).join(', '));
}

/** Rows gathered and inserted BATCH at a time. */
class RowBatch {
  private rows: unknown[] = [];
  private readonly one: Stmt;
  private readonly many: Stmt;

  constructor(db: Database.Database, sql: string, private readonly width: number) {
    this.one = db.prepare(sql);
    this.many = multiRow(db, sql, BATCH);
  }

  push(...row: unknown[]): void {
    for (const v of row) this.rows.push(v);
    if (this.rows.length === BATCH * this.width) {
      this.many.run(this.rows);
      this.rows = [];
    }
  }

  flush(): void {
    for (let at = 0; at < this.rows.length; at += this.width) this.one.run(this.rows.slice(at, at + this.width));
    this.rows = [];
  }
}

/** Writes images into the store, inside the transaction of the checkpoint being written. */
export class ChunkWriter {
  /** Bytes of chunks this writer added that the store did not hold before. */
  newBytes = 0;
  totalBytes = 0;
  private readonly s: Record<'find' | 'insertImage' | 'finishImage' | 'markStored' | 'insertPack', Stmt>;
  private readonly chunkRows: RowBatch;
  private readonly imageRows: RowBatch;
  private nextChunk: number;
  private nextPack: number;
  private pack = Buffer.allocUnsafeSlow(PACK_SIZE);
  private packUsed = 0;
  private packJobs: Promise<void>[] = [];
  /** Chunks this writer added, by hash: the workers' read-only view of the store does not show them. */
  private readonly added = new Map<string, number>();
  private addedComplete = true;
  private pool: ChunkPool | null | undefined;

  constructor(db: Database.Database, private readonly checkpointId: number, private readonly opts: ChunkWriterOptions = {}) {
    const p = (name: string) => db.prepare(statement(SQL, name));
    this.s = {
      find: p('find_chunk').pluck(),
      insertImage: p('insert_image'),
      finishImage: p('finish_image'),
      markStored: p('mark_stored'),
      insertPack: p('insert_pack'),
    };
    this.chunkRows = new RowBatch(db, statement(SQL, 'insert_chunk'), 5);
    this.imageRows = new RowBatch(db, statement(SQL, 'insert_image_chunk'), 3);
    // Numbered here, not by SQLite: the writer holds the store's write lock, and a chunk
    // needs its number before its pack is compressed and written.
    const next = p('next_ids').get() as { chunk: number; pack: number };
    this.nextChunk = next.chunk;
    this.nextPack = next.pack;
  }

  /** Per-task images of no task in the process tree: kept as they are, not rebuilt on export. */
  markStored(names: string[]): void {
    for (const name of names) this.s.markStored.run(this.checkpointId, name);
  }

  /** Starts an image; write its bytes in any pieces, then finish it. */
  begin(rec: ImageRecord): ImageSink {
    return new ImageSink(this, this.insertImage(rec));
  }

  /** A whole image at once. */
  put(rec: ImageRecord, bytes: Uint8Array, entries: number | null): number {
    const sink = this.begin(rec);
    sink.write(bytes);
    return sink.finish(entries);
  }

  /**
   * An image read from a stream, of any size: its pages are hashed by worker threads
   * where the file is large, a few blocks ahead of this thread.
   */
  async stream(rec: ImageRecord, content: AsyncIterable<Uint8Array>): Promise<number> {
    const imageId = this.insertImage(rec);
    const blocks = new BlockQueue(this, imageId);
    for await (const piece of content) await blocks.write(piece);
    const size = await blocks.end();
    this.finishImage(imageId, size, null);
    return imageId;
  }

  /** An image that is a file of its own: read straight into the blocks the workers hash. */
  async file(rec: ImageRecord, path: string): Promise<number> {
    const imageId = this.insertImage(rec);
    const blocks = new BlockQueue(this, imageId);
    const fd = openSync(path, 'r');
    let size: number;
    try {
      // a large file starts the workers now: they boot while its first block is hashed here
      if (fstatSync(fd).size >= POOL_THRESHOLD) blocks.usePool(this.workers());
      await blocks.read(fd, path);
      size = await blocks.end();
    } finally {
      // workers read from fd: it is closed only once none does, or its number could name another file
      await blocks.settled();
      closeSync(fd);
    }
    this.finishImage(imageId, size, null);
    return imageId;
  }

  /**
   * An image made of chunks stored before (by chunk()), in order: each 4 KiB but the
   * last, as every image is cut, so that it shares them with images cut here.
   */
  putChunks(rec: ImageRecord, chunkIds: readonly number[], size: number, entries: number | null): number {
    const imageId = this.insertImage(rec);
    chunkIds.forEach((chunkId, seq) => this.imageRows.push(imageId, seq, chunkId));
    this.totalBytes += size;
    this.finishImage(imageId, size, entries);
    return imageId;
  }

  /** The id of a chunk with these bytes: the store's own when it holds them already. */
  chunk(data: Uint8Array): number {
    const digest = hash('sha256', data, 'buffer');
    return this.known(digest, (this.s.find.get(digest) as number | undefined) ?? 0) || this.add(digest, data);
  }

  /**
   * Writes what is still gathered: the last pack, the rows. Readers of this checkpoint's
   * chunks (ChunkReader on the same connection) see every chunk after it.
   */
  async flush(): Promise<void> {
    if (this.packUsed > 0) this.sealPack();
    await this.settlePacks(0);
    this.flushSync();
  }

  /** flush(), where no worker has a pack in hand (a writer that streamed nothing large). */
  flushSync(): void {
    if (this.packJobs.length > 0) throw new Error('packs are still being compressed: await flush()');
    if (this.packUsed > 0) this.sealPack(true);
    this.chunkRows.flush();
    this.imageRows.flush();
  }

  /** Ends the worker threads; the writer must not be used after. */
  async close(): Promise<void> {
    await Promise.allSettled(this.packJobs);
    await this.pool?.close();
    this.pool = null;
  }

  /** @internal The workers, started the first time a file is large enough to need them. */
  workers(): ChunkPool | null {
    if (this.pool === undefined) this.pool = this.opts.dbPath ? ChunkPool.open(this.opts.dbPath) : null;
    return this.pool;
  }

  /** @internal */
  reportBytes(n: number): void {
    this.opts.onBytes?.(n);
  }

  /** @internal Chunk ids for the pages of a block, given their hashes and what the store held of them. */
  async takePages(imageId: number, firstSeq: number, block: Buffer, hashes: Buffer, ids: Float64Array): Promise<void> {
    for (let i = 0; i < ids.length; i++) {
      // a page the store holds already needs no view of its hash
      let id = ids[i]!;
      if (!id) {
        const digest = hashes.subarray(i * 32, i * 32 + 32);
        id = this.known(digest, 0) || this.add(Buffer.from(digest), block.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
      }
      this.imageRows.push(imageId, firstSeq + i, id);
      this.totalBytes += Math.min(CHUNK_SIZE, block.length - i * CHUNK_SIZE);
    }
    // bound the packs being compressed: at most two per worker
    await this.settlePacks(2 * (this.pool?.size ?? 0));
  }

  /** @internal */
  storeChunk(imageId: number, seq: number, data: Uint8Array): void {
    this.imageRows.push(imageId, seq, this.chunk(data));
    this.totalBytes += data.length;
  }

  /** @internal */
  finishImage(imageId: number, size: number, entries: number | null): void {
    this.s.finishImage.run(size, entries, imageId);
  }

  private insertImage(rec: ImageRecord): number {
    return Number(this.s.insertImage.run(this.checkpointId, rec.name, rec.kind, rec.role, rec.headMagic, 0, null).lastInsertRowid);
  }

  /** The chunk a hash names, given what the committed store holds of it (0: nothing). */
  private known(digest: Buffer, stored: number): number {
    if (stored) return stored;
    const added = this.added.get(digest.toString('latin1'));
    if (added !== undefined) return added;
    if (this.addedComplete) return 0;
    this.chunkRows.flush();
    return (this.s.find.get(digest) as number | undefined) ?? 0;
  }

  private add(digest: Buffer, data: Uint8Array): number {
    if (this.packUsed + data.length > PACK_SIZE) this.sealPack();
    const id = this.nextChunk++;
    this.pack.set(data, this.packUsed);
    this.chunkRows.push(id, digest, data.length, this.nextPack, this.packUsed);
    this.packUsed += data.length;
    this.newBytes += data.length;
    if (this.added.size >= MAX_REMEMBERED) {
      this.added.clear();
      this.addedComplete = false;
    }
    this.added.set(digest.toString('latin1'), id);
    return id;
  }

  /** Compresses the gathered chunks as the next pack and writes it, by a worker when there are some. */
  private sealPack(here = false): void {
    const id = this.nextPack++;
    const raw = this.pack.subarray(0, this.packUsed);
    const size = this.packUsed;
    const write = (p: EncodedPack) => {
      this.s.insertPack.run(id, p.codec, size, p.data);
    };
    if (this.pool && !here) {
      // the pack's memory goes to the worker as it is, and this writer gathers into new memory
      this.packJobs.push(this.pool.pack(raw).then(write));
      this.pack = Buffer.allocUnsafeSlow(PACK_SIZE);
    } else {
      write(encodePack(raw));
    }
    this.packUsed = 0;
  }

  private async settlePacks(keep: number): Promise<void> {
    while (this.packJobs.length > keep) await this.packJobs.shift();
  }
}

/**
 * A streamed file cut into blocks of 1 MiB, each hashed by a worker while the next is
 * read; blocks are taken back in order, so chunks keep their places.
 */
class BlockQueue {
  private block: Buffer;
  private used = 0;
  private seq = 0;
  private size = 0;
  private readonly free: SharedArrayBuffer[] = [];
  private readonly inFlight: { sab: SharedArrayBuffer; length: number; seq: number; result: Promise<{ hashes: Buffer; ids: Float64Array }> }[] = [];
  private pool: ChunkPool | null = null;
  private sab: SharedArrayBuffer | null = null;

  constructor(private readonly w: ChunkWriter, private readonly imageId: number) {
    this.block = Buffer.allocUnsafe(BLOCK);
  }

  /** Hands the blocks after the first to the workers. */
  usePool(pool: ChunkPool | null): void {
    this.pool = pool;
  }

  /**
   * Reads a file to its end. Past its first block, the workers read the blocks they
   * hash themselves, as far as the file went when it was opened: this thread, which
   * writes SQLite, is the one all others wait for.
   */
  async read(fd: number, path: string): Promise<void> {
    const known = fstatSync(fd).size;
    let position = 0;
    for (;;) {
      if (this.sab && this.used === 0 && position < known) {
        const length = Math.min(BLOCK, known - position);
        await this.dispatch(length, { fd, position, path });
        position += length;
        continue;
      }
      const n = readSync(fd, this.block, this.used, BLOCK - this.used, position);
      if (n === 0) return;
      this.used += n;
      position += n;
      if (this.used === BLOCK) await this.dispatch();
    }
  }

  async write(piece: Uint8Array): Promise<void> {
    let at = 0;
    while (at < piece.length) {
      const n = Math.min(BLOCK - this.used, piece.length - at);
      this.block.set(piece.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === BLOCK) await this.dispatch();
    }
  }

  /** Takes in what is left; returns the file's size. */
  async end(): Promise<number> {
    if (this.used > 0) await this.dispatch();
    while (this.inFlight.length > 0) await this.take();
    return this.size;
  }

  /** Every block sent to a worker done with, whether or not it succeeded. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight.map((j) => j.result));
  }

  /** Hands on the block gathered, or, with read, one of length the worker reads from the file. */
  private async dispatch(length = this.used, read?: { fd: number; position: number; path: string }): Promise<void> {
    const seq = this.seq;
    const sab = this.sab;
    this.seq += Math.ceil(length / CHUNK_SIZE);
    this.size += length;
    this.used = 0;
    if (!sab) {
      // the first blocks of a file are hashed here, and only a large file starts the workers
      const block = this.block.subarray(0, length);
      const n = Math.ceil(length / CHUNK_SIZE);
      for (let i = 0; i < n; i++) this.w.storeChunk(this.imageId, seq + i, block.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
      this.w.reportBytes(length);
      if (!this.pool && this.size >= POOL_THRESHOLD) this.pool = this.w.workers();
      if (this.pool) this.nextBlock();
      return;
    }
    const pool = this.pool!;
    this.inFlight.push({ sab, length, seq, result: pool.hash(sab, length, read) });
    while (this.inFlight.length > 2 * pool.size) await this.take();
    this.nextBlock();
  }

  /** The next block to fill: one a worker is done with, or a new one. */
  private nextBlock(): void {
    this.sab = this.free.pop() ?? new SharedArrayBuffer(BLOCK);
    this.block = Buffer.from(this.sab);
  }

  private async take(): Promise<void> {
    const job = this.inFlight.shift()!;
    const { hashes, ids } = await job.result;
    await this.w.takePages(this.imageId, job.seq, Buffer.from(job.sab, 0, job.length), hashes, ids);
    this.w.reportBytes(job.length);
    this.free.push(job.sab);
  }
}

/** Takes an image's bytes in whatever pieces they arrive and cuts them into chunks. */
export class ImageSink {
  private pending = Buffer.alloc(CHUNK_SIZE);
  private filled = 0;
  private seq = 0;
  private size = 0;

  constructor(private readonly writer: ChunkWriter, readonly imageId: number) {}

  write(bytes: Uint8Array): void {
    let at = 0;
    this.size += bytes.length;
    if (this.filled > 0) {
      const n = Math.min(CHUNK_SIZE - this.filled, bytes.length);
      this.pending.set(bytes.subarray(0, n), this.filled);
      this.filled += n;
      at = n;
      if (this.filled < CHUNK_SIZE) return;
      this.writer.storeChunk(this.imageId, this.seq++, this.pending);
      this.filled = 0;
    }
    while (bytes.length - at >= CHUNK_SIZE) {
      this.writer.storeChunk(this.imageId, this.seq++, bytes.subarray(at, at + CHUNK_SIZE));
      at += CHUNK_SIZE;
    }
    if (at < bytes.length) {
      this.pending.set(bytes.subarray(at), 0);
      this.filled = bytes.length - at;
    }
  }

  finish(entries: number | null): number {
    if (this.filled > 0) this.writer.storeChunk(this.imageId, this.seq++, this.pending.subarray(0, this.filled));
    this.filled = 0;
    this.writer.finishImage(this.imageId, this.size, entries);
    return this.imageId;
  }
}

/** Where a chunk's bytes are: in which pack, from where, how many. */
export interface ChunkPlace {
  pack_id: number;
  pack_offset: number;
  size: number;
}

/** Decoded packs kept for the next reads: a file's chunks mostly lie in a few packs, in order. */
const CACHED_PACKS = 8;
/** Chunks whose places are read at once when an image is read in order. */
const WINDOW = 4096;

/**
 * Reads chunks through a connection (a store's, or a read-only one). This is how every
 * part of ckptdb, and every other program, gets at the bytes a checkpoint keeps.
 */
export class ChunkReader {
  private readonly s: Record<'place' | 'pack' | 'imagePlaces' | 'imagePlace' | 'imageNamed', Stmt>;
  private readonly packs = new Map<number, Buffer>();

  constructor(db: Database.Database) {
    const p = (name: string) => db.prepare(statement(SQL, name));
    this.s = {
      place: p('chunk_place'),
      pack: p('pack'),
      imagePlaces: p('image_chunk_places').raw(),
      imagePlace: p('image_chunk_place'),
      imageNamed: p('image_named').pluck(),
    };
  }

  /** The bytes of a chunk by its id. */
  chunk(id: number): Buffer {
    const place = this.s.place.get(id) as ChunkPlace | undefined;
    if (!place) throw new Error(`no chunk ${id} in the store`);
    return this.at(place);
  }

  /** The bytes at a place. The buffer may be shared with later reads: copy it to keep it. */
  at(place: ChunkPlace): Buffer {
    return this.packBytes(place.pack_id).subarray(place.pack_offset, place.pack_offset + place.size);
  }

  /** An image's bytes, chunk by chunk, in order, without holding the whole image: chunks from seq from to before seq to. */
  *image(imageId: number, from = 0, to = Number.MAX_SAFE_INTEGER): Generator<Buffer> {
    for (let at = from; at < to; at += WINDOW) {
      const places = this.s.imagePlaces.all(imageId, at, Math.min(at + WINDOW, to)) as [number, number, number][];
      for (const [pack, offset, size] of places) yield this.at({ pack_id: pack, pack_offset: offset, size });
      if (places.length < WINDOW) return;
    }
  }

  /** Chunk seq of an image, or null when the image has no such chunk. */
  imageChunk(imageId: number, seq: number): Buffer | null {
    const place = this.s.imagePlace.get(imageId, seq) as ChunkPlace | undefined;
    return place ? this.at(place) : null;
  }

  /** The id of a checkpoint's image by its file name, or null. */
  imageId(checkpointId: number, name: string): number | null {
    return (this.s.imageNamed.get(checkpointId, name) as number | undefined) ?? null;
  }

  private packBytes(id: number): Buffer {
    const cached = this.packs.get(id);
    if (cached) {
      this.packs.delete(id);
      this.packs.set(id, cached);
      return cached;
    }
    const row = this.s.pack.get(id) as { codec: string; size: number; data: Buffer } | undefined;
    if (!row) throw new Error(`no pack ${id} in the store`);
    const bytes = decodePack(row.codec, row.data, row.size);
    if (this.packs.size >= CACHED_PACKS) this.packs.delete(this.packs.keys().next().value!);
    this.packs.set(id, bytes);
    return bytes;
  }
}

export function checkpointImages(db: Database.Database, checkpointId: number): StoredImage[] {
  return db.prepare(statement(SQL, 'checkpoint_images')).all({ checkpoint_id: checkpointId }) as StoredImage[];
}

/** An image's bytes, chunk by chunk, without holding the whole image. */
export function imageChunks(db: Database.Database, imageId: number): Generator<Buffer> {
  return new ChunkReader(db).image(imageId);
}

export function imageBytes(db: Database.Database, imageId: number): Buffer {
  return Buffer.concat([...imageChunks(db, imageId)]);
}

/**
 * Deleting a checkpoint: call before its rows go, and call what it returns after, in the
 * same transaction. The chunks its files used that no other file uses are dropped, and
 * the packs left without chunks.
 */
export function chunkGarbage(db: Database.Database, checkpointId: number): () => void {
  const run = (name: string, params: Record<string, unknown> = {}) => {
    for (const sql of namedStatements(SQL).get(name)!) {
      const s = db.prepare(sql);
      if (s.reader) s.all();
      else if (sql.includes(':id')) s.run(params);
      else s.run();
    }
  };
  run('gc_collect', { id: checkpointId });
  return () => run('gc_sweep');
}
