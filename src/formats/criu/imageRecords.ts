/**
 * The files a CRIU checkpoint keeps, as records of ckptdb's restore image (see
 * ../image/types.ts), and back: so that a checkpoint imported from CRIU, exported as an
 * image and imported again still exports as the same CRIU image directory.
 *
 * The image carries the store's chunks as they are (4 KiB cuts from each file's start),
 * each once, however many files use it; the import stores them through the same
 * content-addressed chunk store, so they are shared with every checkpoint that holds
 * the same bytes.
 */
import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { namedStatements, statement } from '../../store/sqlFile.js';
import type { CriuChunkRecord, CriuImageRecord } from '../image/types.js';
import { ChunkReader, ChunkWriter, checkpointImages, imageBytes } from '../../store/chunks.js';
import { readEntries, readHeader } from './imageFile.js';
import { modelledKind } from './images.js';
import { indexPages, storedPagemaps } from './pageIndex.js';

const SQL = 'internal/criu.sql';

/**
 * The kept files of a checkpoint in name order, each after the chunks of it not yielded
 * before. Runs inside the caller's read transaction; holds one file's chunk numbers.
 */
export function* criuFileRecords(db: Database.Database, checkpointId: number): Generator<CriuChunkRecord | CriuImageRecord> {
  const images = checkpointImages(db, checkpointId);
  if (images.length === 0) return;
  for (const sql of namedStatements(SQL).get('create_chunk_order')!) db.exec(sql);
  try {
    db.prepare(statement(SQL, 'number_chunks')).run({ checkpoint_id: checkpointId });
    const numbers = db.prepare(statement(SQL, 'image_chunk_numbers')).raw();
    const reader = new ChunkReader(db);
    let next = 1;
    for (const img of images) {
      const chunks: number[] = [];
      const listed = numbers.all({ image_id: img.id, next }) as [number, number | null][];
      for (const [n, chunkId] of listed) {
        if (n === next) {
          next++;
          yield { record: 'criuChunk', id: n, data: reader.chunk(chunkId!).toString('base64') };
        }
        chunks.push(n);
      }
      yield { record: 'criuImage', name: img.name, kind: img.kind, role: img.role, headMagic: img.head_magic, size: img.size, entries: img.entries, chunks };
    }
  } finally {
    for (const sql of namedStatements(SQL).get('drop_chunk_order')!) db.exec(sql);
  }
}

/** Reports a problem with a field of the record being written; never returns. */
export type FieldFail = (field: string, message: string) => never;

/**
 * Writes criuChunk and criuImage records into the checkpoint being written, in the
 * writer's transaction. The records have passed the image's checks (ids in order,
 * chunks defined before use, sizes that add up); what is left to check is that the
 * CRIU images among the files are images: export --format criu decodes them.
 */
export class CriuFileWriter {
  private readonly chunks: ChunkWriter;
  /** Store row of each chunk by its id in the image: 8 bytes a chunk. */
  private rows = new Float64Array(1024);

  /** Names of the files written, for the page index. */
  private readonly names: string[] = [];

  constructor(private readonly db: Database.Database, private readonly checkpointId: number) {
    this.chunks = new ChunkWriter(db, checkpointId);
  }

  chunk(r: CriuChunkRecord): void {
    if (r.id >= this.rows.length) {
      const grown = new Float64Array(r.id * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    this.rows[r.id] = this.chunks.chunk(Buffer.from(r.data, 'base64'));
  }

  image(r: CriuImageRecord, fail: FieldFail): void {
    this.names.push(r.name);
    const imageId = this.chunks.putChunks({ name: r.name, kind: r.kind, role: r.role, headMagic: r.headMagic }, r.chunks.map((n) => this.rows[n]!), r.size, r.entries);
    if (r.role === 'modelled' || r.role === 'stored') this.checkImage(r, imageId, fail);
  }

  /** Writes the chunks still gathered and the page index; before the checkpoint commits. */
  finish(): void {
    this.chunks.flushSync();
    indexPages(this.db, this.checkpointId, storedPagemaps(this.db, this.checkpointId, this.names));
  }

  private checkImage(r: CriuImageRecord, imageId: number, fail: FieldFail): void {
    if (r.role === 'modelled' && modelledKind(r.name)?.name !== r.kind) {
      fail('/role', `${r.name} is no image ckptdb models as ${r.kind}`);
    }
    try {
      this.chunks.flushSync();
      const bytes = imageBytes(this.db, imageId);
      const header = readHeader(bytes, r.name);
      if (header.kind.name !== r.kind) fail('/kind', `is ${r.kind}, but the bytes of ${r.name} hold a ${header.kind.name} image`);
      if (header.head !== r.headMagic) fail('/headMagic', `is ${r.headMagic}, but the bytes of ${r.name} start with ${header.head}`);
      const entries = readEntries(bytes, header, r.name).length;
      if (entries !== r.entries) fail('/entries', `is ${r.entries}, but ${r.name} holds ${entries} entries`);
    } catch (e) {
      if (e instanceof CkptdbError && e.code === 'BAD_IMAGE' && e.message.startsWith(`${r.name}: `)) fail('/chunks', e.message);
      throw e;
    }
  }
}
