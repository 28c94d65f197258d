/**
 * A worker of the chunk store (chunkPool.ts): for the writer, hashes the pages of a block
 * and looks each hash up in the committed store through a read-only connection of its
 * own, and compresses packs (the writer's own transaction is invisible here; the writer
 * knows the chunks it added itself); for export, writes a range of a committed image's
 * chunks into its file.
 */
import { hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { statement } from './sqlFile.js';
import { encodePack } from './packCodec.js';
import { ChunkReader } from './chunks.js';
import { writeChunks } from './chunkFile.js';
import { CHUNK_SIZE, type HashReply, type PackReply, type WorkerRequest, type WriteReply } from './chunkMessages.js';

const db = new Database((workerData as { dbPath: string }).dbPath, { readonly: true, fileMustExist: true });
let reader: ChunkReader | null = null;
/** Hashes looked up in one statement. */
const LOOKUP = 128;
const findMany = db.prepare(statement('internal/chunks.sql', 'find_chunks').replace('(?)', `(${Array(LOOKUP).fill('?').join(', ')})`)).raw();

function hashBlock(block: Buffer): HashReply['result'] {
  const n = Math.ceil(block.length / CHUNK_SIZE);
  const hashes = Buffer.alloc(n * 32);
  const ids = new Float64Array(n);
  let previous: Buffer | null = null;
  for (let i = 0; i < n; i++) {
    const page = block.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
    // runs of one page (zeroes, a fill pattern) are hashed once
    if (previous && previous.length === page.length && previous.equals(page)) hashes.copy(hashes, i * 32, (i - 1) * 32, i * 32);
    else hash('sha256', page, 'buffer').copy(hashes, i * 32);
    previous = page;
  }
  lookUp(hashes, ids, n);
  return { hashes, ids };
}

/** The store's chunk id of each hash, or 0, LOOKUP hashes to a statement. */
function lookUp(hashes: Buffer, ids: Float64Array, n: number): void {
  const at = new Map<string, number[]>();
  const keys: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const h = hashes.subarray(i * 32, i * 32 + 32);
    const k = h.toString('latin1');
    const same = at.get(k);
    if (same) {
      same.push(i);
      continue;
    }
    at.set(k, [i]);
    keys.push(h);
  }
  for (let from = 0; from < keys.length; from += LOOKUP) {
    const batch = keys.slice(from, from + LOOKUP);
    // a short last batch repeats its first hash to fill the statement
    while (batch.length < LOOKUP) batch.push(batch[0]!);
    for (const [h, id] of findMany.all(batch) as [Buffer, number][]) {
      for (const i of at.get(h.toString('latin1'))!) ids[i] = id;
    }
  }
}

/** Fills the block from the file: the whole length, which the file had when the writer opened it. */
function readBlock(block: Buffer, { fd, position, path }: { fd: number; position: number; path: string }): void {
  for (let at = 0; at < block.length; ) {
    const n = readSync(fd, block, at, block.length - at, position + at);
    if (n === 0) throw new Error(`${path} ended at byte ${position + at} while it was read: it was changed as it was stored`);
    at += n;
  }
}

function writeRange(m: Extract<WorkerRequest, { op: 'write' }>): number {
  reader ??= new ChunkReader(db);
  const fd = openSync(m.path, 'r+');
  try {
    return writeChunks(fd, reader.image(m.imageId, m.from, m.to), m.position);
  } finally {
    closeSync(fd);
  }
}

parentPort!.on('message', (m: WorkerRequest) => {
  if (m.op === 'write') {
    parentPort!.postMessage({ job: m.job, bytes: writeRange(m) } satisfies WriteReply);
  } else if (m.op === 'hash') {
    const block = Buffer.from(m.block, 0, m.length);
    if (m.read) readBlock(block, m.read);
    const result = hashBlock(block);
    parentPort!.postMessage({ job: m.job, result } satisfies HashReply, [result.hashes.buffer as ArrayBuffer, result.ids.buffer as ArrayBuffer]);
  } else {
    const raw = Buffer.from(m.data, 0, m.length);
    const packed = encodePack(raw);
    // kept as it is: its memory goes back as it came; compressed: a copy of the smaller bytes
    if (packed.codec === 'none') parentPort!.postMessage({ job: m.job, codec: 'none', data: raw } satisfies PackReply, [m.data]);
    else parentPort!.postMessage({ job: m.job, codec: packed.codec, data: new Uint8Array(packed.data) } satisfies PackReply);
  }
});
