/**
 * Worker threads that hash pages and compress packs for the chunk store's writer, so
 * that a large import keeps more than one core busy: the writer's thread reads files and
 * writes SQLite while the workers do the per-byte work. Export uses them too: each
 * writes a range of a large image, reading its packs through its own connection.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EncodedPack } from './packCodec.js';
import type { HashReply, PackReply, WorkerRequest, WriteReply } from './chunkMessages.js';

const SCRIPT = fileURLToPath(new URL('./chunkWorker.js', import.meta.url));
const MAX_WORKERS = 4;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class ChunkPool {
  private next = 0;
  private job = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: HashReply | PackReply | WriteReply) => {
        const p = this.pending.get(m.job)!;
        this.pending.delete(m.job);
        p.resolve(m);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a chunk store worker exited with status ${code}`));
      });
    }
  }

  /**
   * Workers reading the store at dbPath; null where they cannot run: a module loaded from
   * TypeScript sources has no compiled worker beside it, and one core gains nothing.
   */
  static open(dbPath: string): ChunkPool | null {
    const n = Math.min(MAX_WORKERS, availableParallelism());
    if (n < 2 || !existsSync(SCRIPT)) return null;
    return new ChunkPool(Array.from({ length: n }, () => new Worker(SCRIPT, { workerData: { dbPath } })));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hashes a block; with read, the worker reads it from the file first. */
  hash(block: SharedArrayBuffer, length: number, read?: { fd: number; position: number; path: string }): Promise<{ hashes: Buffer; ids: Float64Array }> {
    return this.send<HashReply>({ op: 'hash', job: 0, block, length, ...(read ? { read } : {}) }).then(({ result }) => ({
      hashes: Buffer.from(result.hashes.buffer, result.hashes.byteOffset, result.hashes.length),
      ids: result.ids,
    }));
  }

  /** Compresses a pack; raw's memory, a whole ArrayBuffer of its own, moves to the worker. */
  pack(raw: Buffer): Promise<EncodedPack> {
    const data = raw.buffer as ArrayBuffer;
    return this.send<PackReply>({ op: 'pack', job: 0, data, length: raw.length }, [data]).then((r) => ({ codec: r.codec, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length) }));
  }

  /** Writes chunks from seq from to before seq to of a committed image into the file at path, from position; resolves to the bytes written. */
  write(imageId: number, from: number, to: number, path: string, position: number): Promise<number> {
    return this.send<WriteReply>({ op: 'write', job: 0, imageId, from, to, path, position }).then((r) => r.bytes);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private send<T>(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const job = ++this.job;
    req.job = job;
    const worker = this.workers[this.next++ % this.workers.length]!;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(job, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage(req, transfer);
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
