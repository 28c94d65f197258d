/**
 * A process's memory in a checkpoint: its areas (memory maps) with the pages the
 * checkpoint holds of each, bytes by address, and a search through them, as
 * checkpointctl's memparse does over a CRIU directory, here over the store.
 */
import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { statement } from '../store/sqlFile.js';
import { PAGE_SIZE, ProcessPages, processesWithPages, type MemoryRead } from '../store/pages.js';

export interface MemoryArea {
  /** 16-digit hex, as maps keeps them. */
  start: string;
  end: string;
  perms: string;
  path: string | null;
  /** Pages the area spans, and of those the pages the checkpoint holds. */
  size: number;
  pages: number;
}

export interface MemoryHit {
  /** Where the match starts, 16-digit hex. */
  address: string;
  /** The area it is in: start-end perms path. */
  area: string;
  /** The bytes around it, printable ASCII kept and everything else as a dot. */
  context: string;
}

const SQL = 'internal/mem.sql';
const hex = (n: bigint) => n.toString(16).padStart(16, '0');

/** A process's memory in a checkpoint that holds it. */
export class ProcessMemoryView {
  readonly pages: ProcessPages;
  private areaList: MemoryArea[] | null = null;

  constructor(private readonly db: Database.Database, readonly checkpointId: number, readonly pid: number) {
    const source = db.prepare(statement(SQL, 'checkpoint_source')).pluck().get({ checkpoint_id: checkpointId }) as string | undefined;
    if (source !== 'criu') {
      throw new CkptdbError('UNSUPPORTED', `checkpoint ${checkpointId} was captured from ${source === 'proc' ? '/proc' : `source ${source}`}: it holds no memory`, 'checkpoint the processes with `ckptdb checkpoint` to keep their memory');
    }
    const pids = processesWithPages(db, checkpointId);
    if (!pids.includes(pid)) {
      throw new CkptdbError('BAD_ARGUMENT', `checkpoint ${checkpointId} holds no memory of process ${pid}`, pids.length ? `it holds the memory of ${pids.join(', ')}` : 'it holds no memory at all');
    }
    this.pages = new ProcessPages(db, checkpointId, pid);
  }

  /** The only process of a checkpoint with memory, for when none is named. */
  static onlyProcess(db: Database.Database, checkpointId: number): number {
    const pids = processesWithPages(db, checkpointId);
    if (pids.length === 1) return pids[0]!;
    throw new CkptdbError('BAD_ARGUMENT', pids.length ? `checkpoint ${checkpointId} holds the memory of processes ${pids.join(', ')}: name one with --pid` : `checkpoint ${checkpointId} holds no memory`);
  }

  areas(): MemoryArea[] {
    this.areaList ??= (this.db.prepare(statement(SQL, 'process_maps')).all({ checkpoint_id: this.checkpointId, pid: this.pid }) as { start_addr: string; end_addr: string; perms: string; path: string | null }[]).map((m) => {
      const start = BigInt(`0x${m.start_addr}`);
      const end = BigInt(`0x${m.end_addr}`);
      return { start: m.start_addr, end: m.end_addr, perms: m.perms, path: m.path, size: Number((end - start) / BigInt(PAGE_SIZE)), pages: this.pages.pagesIn(start, end) };
    });
    return this.areaList;
  }

  /** The area holding an address, or null. */
  areaAt(addr: bigint): MemoryArea | null {
    const h = hex(addr);
    return this.areas().find((a) => a.start <= h && h < a.end) ?? null;
  }

  /** len bytes from addr; without len, to the end of the area holding addr. */
  read(addr: bigint, len?: number): MemoryRead {
    let n = len;
    if (n === undefined) {
      const area = this.areaAt(addr);
      if (!area) throw new CkptdbError('BAD_ARGUMENT', `0x${addr.toString(16)} is in no memory area of process ${this.pid}`, 'give a length: ADDR:LEN');
      n = Number(BigInt(`0x${area.end}`) - addr);
    }
    if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** 31) throw new CkptdbError('BAD_ARGUMENT', `cannot read ${n} bytes at once`);
    return this.pages.read(addr, n);
  }

  /** Every place the bytes occur in the memory held, in address order; at most limit of them. */
  *search(needle: Buffer, opts: { context?: number; limit?: number } = {}): Generator<MemoryHit> {
    if (needle.length === 0) throw new CkptdbError('BAD_ARGUMENT', 'nothing to search for');
    if (needle.length > PAGE_SIZE) throw new CkptdbError('BAD_ARGUMENT', `a search is for at most ${PAGE_SIZE} bytes`);
    const context = opts.context ?? 24;
    const limit = opts.limit ?? Infinity;
    let found = 0;
    // a window of the previous page's tail and this page: matches across a page boundary
    let tail = Buffer.alloc(0);
    let tailEnd = -1n;
    for (const { vaddr, data } of this.pages.pages()) {
      const carry = tailEnd === vaddr ? tail : Buffer.alloc(0);
      const window = Buffer.concat([carry, data]);
      const base = vaddr - BigInt(carry.length);
      for (let at = window.indexOf(needle); at >= 0; at = window.indexOf(needle, at + 1)) {
        if (at + needle.length <= carry.length) continue;
        const addr = base + BigInt(at);
        const area = this.areaAt(addr);
        const from = Math.max(0, at - context);
        yield {
          address: hex(addr),
          area: area ? `${area.start}-${area.end} ${area.perms}${area.path ? ` ${area.path}` : ''}` : '',
          context: printable(window.subarray(from, Math.min(window.length, at + needle.length + context))),
        };
        if (++found >= limit) return;
      }
      const keep = Math.max(needle.length - 1, context);
      tail = Buffer.from(data.subarray(Math.max(0, data.length - keep)));
      tailEnd = vaddr + BigInt(data.length);
    }
  }
}

function printable(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}
