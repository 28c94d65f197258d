/**
 * task-PID/mem of a CRIU checkpoint: the process's memory at its virtual addresses,
 * as /proc/PID/mem shows a live one. The file's offsets are addresses; where the
 * checkpoint holds a page, its bytes come from the pages file through the chunk store,
 * and everywhere else it is a hole that reads as zeros (SEEK_DATA and SEEK_HOLE find
 * the pages). The page map is CRIU's (pagemap-PID.img), decoded by the CRIU format.
 */
import type Database from 'better-sqlite3';
import { CHUNK_SIZE, ChunkReader, imageBytes } from '../store/chunks.js';
import { statement } from '../store/sqlFile.js';
import { decodePageMap } from '../formats/criu/model/memory.js';

const PAGE = CHUNK_SIZE;

export interface MemoryFile {
  /** The end of the highest page the page map covers. */
  size: number;
  /** Bytes the checkpoint holds. */
  stored: number;
  read(offset: number, length: number): Buffer;
  /** The first offset at or after offset with data, null past the last. */
  nextData(offset: number): number | null;
  /** The first offset at or after offset in a hole (the end of the file is one); null past the end. */
  nextHole(offset: number): number | null;
}

/** Pages the checkpoint holds from start to end, at place (in bytes) of the pages file. */
interface DataRange {
  start: number;
  end: number;
  place: number;
}

export class ProcessMemory {
  private readonly byName: Database.Statement<unknown[]>;

  constructor(private readonly db: Database.Database, private readonly chunks: ChunkReader) {
    this.byName = db.prepare(statement('internal/mount.sql', 'image_by_name')).pluck();
  }

  /** The memory a page map describes; null when the pages file is missing. */
  open(checkpointId: number, pagemapImage: number): MemoryFile | null {
    const map = decodePageMap(imageBytes(this.db, pagemapImage), `checkpoint ${checkpointId}: page map`);
    const pages = this.byName.get({ id: checkpointId, name: map.pagesFile }) as number | undefined;
    if (pages === undefined) return null;
    const ranges: DataRange[] = [];
    let size = 0;
    for (const run of map.runs) {
      // Above 2^53 no offset can reach (the vsyscall page, which CRIU does not dump anyway).
      if (run.vaddr > BigInt(Number.MAX_SAFE_INTEGER - run.pages * PAGE)) continue;
      const start = Number(run.vaddr);
      const end = start + run.pages * PAGE;
      size = Math.max(size, end);
      if (run.page < 0 || run.pages === 0) continue;
      const last = ranges.at(-1);
      if (last && last.end === start && last.place + (last.end - last.start) === run.page * PAGE) last.end = end;
      else ranges.push({ start, end, place: run.page * PAGE });
    }
    ranges.sort((x, y) => x.start - y.start);
    return new PagedMemory(this.chunks, pages, ranges, size);
  }
}

class PagedMemory implements MemoryFile {
  readonly stored: number;

  constructor(private readonly chunks: ChunkReader, private readonly pages: number, private readonly ranges: DataRange[], readonly size: number) {
    this.stored = ranges.reduce((n, r) => n + r.end - r.start, 0);
  }

  read(offset: number, length: number): Buffer {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const out = Buffer.alloc(n);
    const end = offset + n;
    for (let i = this.firstEndingAfter(offset); i < this.ranges.length && this.ranges[i]!.start < end; i++) {
      const r = this.ranges[i]!;
      const from = Math.max(offset, r.start);
      const to = Math.min(end, r.end);
      this.chunks.read(this.pages, r.place + (from - r.start), to - from).copy(out, from - offset);
    }
    return out;
  }

  nextData(offset: number): number | null {
    const r = this.ranges[this.firstEndingAfter(offset)];
    return r ? Math.max(offset, r.start) : null;
  }

  nextHole(offset: number): number | null {
    if (offset >= this.size) return null;
    let i = this.firstEndingAfter(offset);
    let at = offset;
    while (i < this.ranges.length && this.ranges[i]!.start <= at) at = this.ranges[i++]!.end;
    return Math.min(at, this.size);
  }

  /** The index of the first range that ends after offset (binary search). */
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
