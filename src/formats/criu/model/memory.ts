/**
 * Reading a process's memory from its pages: pagemap-PID.img lists the dumped pages
 * by address, pages-N.img holds their bytes one after another, and the chunk store cuts
 * a pages file at page boundaries, so page k of it is chunk k. Used for what the
 * kernel keeps only in memory: the command line and the environment.
 */
import { isFieldSet } from '@bufbuild/protobuf';
import type Database from 'better-sqlite3';
import { CHUNK_SIZE, ChunkReader } from '../../../store/chunks.js';
import { pagemap_entrySchema, pagemap_headSchema, type pagemap_entry } from '../gen/payload_pb.js';
import type { ImportContext } from './context.js';

const PAGE = CHUNK_SIZE;
const PE_PARENT = 1;
const PE_PRESENT = 4;
/** Longer argument or environment blocks are not read. */
const MAX_BLOCK = 128 * 1024;

interface PageMap {
  pages: string;
  /** Each run of pages with where its first page is in the pages file, or -1 if it is not there. */
  runs: { vaddr: bigint; end: bigint; page: number }[];
}

/**
 * Whether a pagemap entry's pages are in this checkpoint's pages file: present and not
 * the parent's. PE_LAZY does not take them out: CRIU marks private anonymous pages lazy
 * and present, and writes them (only a lazy-pages dump leaves PE_PRESENT off).
 */
export function inPagesFile(e: pagemap_entry): boolean {
  if (e.inParent) return false;
  if (!isFieldSet(e, pagemap_entrySchema.field.flags)) return true;
  return (e.flags & PE_PRESENT) !== 0 && (e.flags & PE_PARENT) === 0;
}

/** The pages an entry covers: CRIU 4.x writes nr_pages, 3.x only the old field. */
export function pageCount(e: pagemap_entry): number {
  return isFieldSet(e, pagemap_entrySchema.field.nrPages) ? Number(e.nrPages) : e.compatNrPages;
}

export class ProcessMemory {
  private readonly chunks: ChunkReader;
  private readonly maps = new Map<number, PageMap | null>();

  constructor(private readonly ctx: ImportContext, db: Database.Database) {
    this.chunks = new ChunkReader(db);
  }

  /** The bytes from start to end of a process's memory, or null where a page was not dumped. */
  read(pid: number, start: bigint, end: bigint): Buffer | null {
    if (end <= start || end - start > BigInt(MAX_BLOCK)) return null;
    const map = this.pagemap(pid);
    if (!map) return null;
    const out = Buffer.alloc(Number(end - start));
    for (let at = start; at < end; ) {
      const page = at - (at % BigInt(PAGE));
      const data = this.page(map, page);
      if (!data) return null;
      const from = Number(at - page);
      const n = Math.min(PAGE - from, Number(end - at));
      data.copy(out, Number(at - start), from, from + n);
      at += BigInt(n);
    }
    return out;
  }

  private pagemap(pid: number): PageMap | null {
    if (this.maps.has(pid)) return this.maps.get(pid)!;
    const img = this.ctx.images.get(`pagemap-${pid}.img`);
    const [head, ...entries] = img?.entries ?? [];
    let map: PageMap | null = null;
    if (img && head) {
      const { where } = img;
      const pagesId = this.ctx.decodeOneOf(head, pagemap_headSchema, where).pagesId;
      let page = 0;
      const runs = entries.map((e) => {
        const m = this.ctx.decodeOneOf(e, pagemap_entrySchema, where);
        const n = pageCount(m);
        const run = { vaddr: m.vaddr, end: m.vaddr + BigInt(n) * BigInt(PAGE), page: inPagesFile(m) ? page : -1 };
        if (inPagesFile(m)) page += n;
        return run;
      });
      map = { pages: `pages-${pagesId}.img`, runs };
    }
    this.maps.set(pid, map);
    return map;
  }

  private page(map: PageMap, addr: bigint): Buffer | null {
    const run = map.runs.find((r) => addr >= r.vaddr && addr < r.end);
    if (!run || run.page < 0) return null;
    const seq = run.page + Number((addr - run.vaddr) / BigInt(PAGE));
    const image = this.chunks.imageId(this.ctx.w.checkpointId, map.pages);
    const data = image === null ? null : this.chunks.imageChunk(image, seq);
    return data && data.length === PAGE ? data : null;
  }
}

/** NUL-separated strings, as /proc/PID/cmdline and environ give them. */
export function nulStrings(block: Buffer | null): string[] | null {
  if (!block) return null;
  const parts = block.toString('utf8').split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}
