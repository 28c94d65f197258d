/**
 * The files of a CRIU checkpoint that the mount reads piece by piece: a kept file at
 * any offset, and task-PID/mem, the process's memory at its virtual addresses, as
 * /proc/PID/mem shows a live one. Both go through the store (chunks.ts, pages.ts): a
 * page the checkpoint holds comes from the chunk store by the page index, everywhere
 * else mem is a hole that reads as zeros (SEEK_DATA and SEEK_HOLE find the pages).
 */
import type Database from 'better-sqlite3';
import { CHUNK_SIZE, type ChunkReader } from '../store/chunks.js';
import { PAGE_SIZE, ProcessPages } from '../store/pages.js';

/** Up to length bytes of a kept file (size bytes long) from offset. */
export function readImage(chunks: ChunkReader, imageId: number, size: number, offset: number, length: number): Buffer {
  const end = Math.min(size, offset + length);
  if (end <= offset) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (let seq = Math.floor(offset / CHUNK_SIZE); seq * CHUNK_SIZE < end; seq++) {
    const chunk = chunks.imageChunk(imageId, seq);
    if (!chunk) throw new Error(`kept file ${imageId} has no chunk ${seq}`);
    const from = Math.max(0, offset - seq * CHUNK_SIZE);
    parts.push(chunk.subarray(from, Math.min(chunk.length, end - seq * CHUNK_SIZE)));
  }
  return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
}

/** Pages the checkpoint holds from start to end. */
interface DataRange {
  start: number;
  end: number;
}

export class MemoryFile {
  /** The end of the highest page the checkpoint holds. */
  readonly size: number;
  /** Bytes the checkpoint holds. */
  readonly stored: number;
  private readonly ranges: DataRange[] = [];

  constructor(private readonly pages: ProcessPages) {
    for (const run of pages.runs) {
      const start = Number(run.vaddr);
      const end = start + run.nrPages * PAGE_SIZE;
      const last = this.ranges.at(-1);
      if (last && last.end === start) last.end = end;
      else this.ranges.push({ start, end });
    }
    this.size = this.ranges.at(-1)?.end ?? 0;
    this.stored = this.ranges.reduce((n, r) => n + r.end - r.start, 0);
  }

  static open(db: Database.Database, checkpointId: number, pid: number): MemoryFile {
    return new MemoryFile(new ProcessPages(db, checkpointId, pid));
  }

  read(offset: number, length: number): Buffer {
    const n = Math.max(0, Math.min(length, this.size - offset));
    return this.pages.read(BigInt(offset), n).bytes;
  }

  /** The first offset at or after offset with data, null past the last. */
  nextData(offset: number): number | null {
    const r = this.ranges[this.firstEndingAfter(offset)];
    return r ? Math.max(offset, r.start) : null;
  }

  /** The first offset at or after offset in a hole (the end of the file is one), null past the end. */
  nextHole(offset: number): number | null {
    if (offset >= this.size) return null;
    const r = this.ranges[this.firstEndingAfter(offset)];
    return r && r.start <= offset ? r.end : offset;
  }

  /** The index of the first range that ends after offset. */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
