/**
 * A process's memory as a checkpoint keeps it, by virtual address: the page index
 * (criu_page_runs) says which pages of which image hold each run of dumped pages, the
 * chunk store gives their bytes. This is how mem, mount and push read memory.
 */
import type Database from 'better-sqlite3';
import { statement } from './sqlFile.js';
import { ChunkReader, CHUNK_SIZE } from './chunks.js';

export const PAGE_SIZE = CHUNK_SIZE;
const PAGE = BigInt(PAGE_SIZE);

/** nrPages pages from vaddr are pages seq .. seq + nrPages - 1 of image imageId. */
export interface PageRun {
  vaddr: bigint;
  nrPages: number;
  imageId: number;
  seq: number;
}

export interface MemoryRead {
  bytes: Buffer;
  /** Pages in the range that the checkpoint does not hold (read as zeroes), by address. */
  missing: bigint[];
}

/** The processes of a checkpoint whose memory it holds. */
export function processesWithPages(db: Database.Database, checkpointId: number): number[] {
  return db.prepare(statement('internal/chunks.sql', 'page_pids')).pluck().all(checkpointId) as number[];
}

export class ProcessPages {
  readonly runs: readonly PageRun[];
  private readonly chunks: ChunkReader;

  constructor(db: Database.Database, readonly checkpointId: number, readonly pid: number) {
    const rows = db.prepare(statement('internal/chunks.sql', 'page_runs')).safeIntegers(true).all(checkpointId, pid) as { vaddr: bigint; nr_pages: bigint; image_id: bigint; seq: bigint }[];
    this.runs = rows.map((r) => ({ vaddr: r.vaddr, nrPages: Number(r.nr_pages), imageId: Number(r.image_id), seq: Number(r.seq) }));
    this.chunks = new ChunkReader(db);
  }

  /** How many pages the checkpoint holds from start (inclusive) to end (exclusive). */
  pagesIn(start: bigint, end: bigint): number {
    let n = 0;
    for (const r of this.runs) {
      const from = r.vaddr > start ? r.vaddr : start;
      const runEnd = r.vaddr + BigInt(r.nrPages) * PAGE;
      const to = runEnd < end ? runEnd : end;
      if (to > from) n += Number((to - from + PAGE - 1n) / PAGE);
    }
    return n;
  }

  /** The page at a page-aligned address, or null when the checkpoint does not hold it. */
  page(vaddr: bigint): Buffer | null {
    const run = this.runAt(vaddr);
    if (!run) return null;
    return this.chunks.imageChunk(run.imageId, run.seq + Number((vaddr - run.vaddr) / PAGE));
  }

  /** len bytes from addr; pages not held read as zeroes and are listed. */
  read(addr: bigint, len: number): MemoryRead {
    const bytes = Buffer.alloc(len);
    const missing: bigint[] = [];
    for (let at = addr; at < addr + BigInt(len); ) {
      const pageAddr = at - (at % PAGE);
      const from = Number(at - pageAddr);
      const n = Math.min(PAGE_SIZE - from, Number(addr + BigInt(len) - at));
      const data = this.page(pageAddr);
      if (data) data.copy(bytes, Number(at - addr), from, from + n);
      else missing.push(pageAddr);
      at += BigInt(n);
    }
    return { bytes, missing };
  }

  /** Every page held, in address order, without holding more than one at a time. */
  *pages(): Generator<{ vaddr: bigint; data: Buffer }> {
    for (const r of this.runs) {
      for (let k = 0; k < r.nrPages; k++) {
        const data = this.chunks.imageChunk(r.imageId, r.seq + k);
        if (data) yield { vaddr: r.vaddr + BigInt(k) * PAGE, data };
      }
    }
  }

  private runAt(vaddr: bigint): PageRun | null {
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.runs[mid]!;
      if (vaddr < r.vaddr) hi = mid - 1;
      else if (vaddr >= r.vaddr + BigInt(r.nrPages) * PAGE) lo = mid + 1;
      else return r;
    }
    return null;
  }
}
