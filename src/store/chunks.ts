/**
 * Content-addressed storage of image bytes: an image is a list of chunks, each chunk
 * is stored once however many images and checkpoints hold the same bytes. Chunks are
 * cut every 4 KiB from the start of the file, which is page by page for CRIU's pages
 * files, so a checkpoint whose memory changed a little stores only the pages that did.
 */
import { hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { statement } from './sqlFile.js';

export const CHUNK_SIZE = 4096;

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

type Stmt = Database.Statement<unknown[]>;

/** Writes images into the store, inside the transaction of the checkpoint being written. */
export class ChunkWriter {
  private readonly s: Record<'insertChunk' | 'findChunk' | 'insertImage' | 'finishImage' | 'insertImageChunk' | 'markStored', Stmt>;
  /** Bytes of chunks this writer added that the store did not hold before. */
  newBytes = 0;
  totalBytes = 0;

  constructor(db: Database.Database, private readonly checkpointId: number) {
    const p = (name: string) => db.prepare(statement('internal/criu.sql', name));
    this.s = {
      insertChunk: p('insert_chunk'),
      findChunk: p('find_chunk').pluck(),
      insertImage: p('insert_image'),
      finishImage: p('finish_image'),
      insertImageChunk: p('insert_image_chunk'),
      markStored: p('mark_stored'),
    };
  }

  /** Per-task images of no task in the process tree: kept as they are, not rebuilt on export. */
  markStored(names: string[]): void {
    for (const name of names) this.s.markStored.run(this.checkpointId, name);
  }

  /** Starts an image; write its bytes in any pieces, then finish it. */
  begin(rec: ImageRecord): ImageSink {
    const info = this.s.insertImage.run(this.checkpointId, rec.name, rec.kind, rec.role, rec.headMagic, 0, null);
    return new ImageSink(this, Number(info.lastInsertRowid));
  }

  /** A whole image at once. */
  put(rec: ImageRecord, bytes: Uint8Array, entries: number | null): number {
    const sink = this.begin(rec);
    sink.write(bytes);
    return sink.finish(entries);
  }

  /**
   * An image made of chunks stored before (by chunk()), in order: each 4 KiB but the
   * last, as every image is cut, so that it shares them with images cut here.
   */
  putChunks(rec: ImageRecord, chunkIds: readonly number[], size: number, entries: number | null): number {
    const imageId = Number(this.s.insertImage.run(this.checkpointId, rec.name, rec.kind, rec.role, rec.headMagic, 0, null).lastInsertRowid);
    chunkIds.forEach((chunkId, seq) => this.s.insertImageChunk.run(imageId, seq, chunkId));
    this.totalBytes += size;
    this.finishImage(imageId, size, entries);
    return imageId;
  }

  /** The row of a chunk with these bytes: the store's own when it holds them already. */
  chunk(data: Uint8Array): number {
    const digest = hash('sha256', data, 'buffer');
    const info = this.s.insertChunk.run(digest, data);
    if (!info.changes) return Number(this.s.findChunk.get(digest));
    this.newBytes += data.length;
    return Number(info.lastInsertRowid);
  }

  /** @internal */
  storeChunk(imageId: number, seq: number, data: Uint8Array): void {
    this.s.insertImageChunk.run(imageId, seq, this.chunk(data));
    this.totalBytes += data.length;
  }

  /** @internal */
  finishImage(imageId: number, size: number, entries: number | null): void {
    this.s.finishImage.run(size, entries, imageId);
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

export function checkpointImages(db: Database.Database, checkpointId: number): StoredImage[] {
  return db.prepare(statement('internal/criu.sql', 'checkpoint_images')).all({ checkpoint_id: checkpointId }) as StoredImage[];
}

/** An image's bytes, chunk by chunk, without holding the whole image. */
export function* imageChunks(db: Database.Database, imageId: number): Generator<Buffer> {
  const rows = db.prepare(statement('internal/criu.sql', 'image_chunks')).pluck().iterate({ image_id: imageId }) as IterableIterator<Buffer>;
  yield* rows;
}

export function imageBytes(db: Database.Database, imageId: number): Buffer {
  return Buffer.concat([...imageChunks(db, imageId)]);
}

/**
 * Reads kept files at any place, and chunks by their row: for readers that take a file
 * piece by piece (a mount serving reads of any offset), without the whole of it.
 */
export class ChunkReader {
  private readonly s: Record<'data' | 'size' | 'range', Stmt>;

  constructor(db: Database.Database) {
    const p = (name: string) => db.prepare(statement('internal/criu.sql', name));
    this.s = { data: p('chunk_data').pluck(), size: p('chunk_size').pluck(), range: p('image_chunk_range').pluck() };
  }

  /** The bytes of a chunk, by its row in criu_chunks; null when there is no such chunk. */
  chunk(chunkId: number): Buffer | null {
    return (this.s.data.get(chunkId) as Buffer | undefined) ?? null;
  }

  /** How many bytes the chunk holds; null when there is no such chunk. */
  chunkSize(chunkId: number): number | null {
    return (this.s.size.get(chunkId) as number | undefined) ?? null;
  }

  /** Up to length bytes of an image from offset: fewer at its end, none past it. */
  read(imageId: number, offset: number, length: number): Buffer {
    if (length <= 0) return Buffer.alloc(0);
    const first = Math.floor(offset / CHUNK_SIZE);
    const last = Math.floor((offset + length - 1) / CHUNK_SIZE);
    const chunks = this.s.range.all(imageId, first, last) as Buffer[];
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const from = offset - first * CHUNK_SIZE;
    return bytes.subarray(Math.min(from, bytes.length), Math.min(from + length, bytes.length));
  }
}
