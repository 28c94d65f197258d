/**
 * Reading the fds of the capture's tables, in order, ahead of the main thread: in a
 * worker thread (fdWorker.ts) when the compiled worker is there, else in this thread
 * as each table is asked for (running from TypeScript sources, where no worker file
 * exists).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readFd, type FdRecord, type FdTableRef, type InodeCache } from './fds.js';
import { fromWire, type WireResult, type WireTable } from './fdWire.js';

export interface TableFds {
  records: FdRecord[];
  /** Fds closed (or whose tasks all exited) while being read. */
  vanished: number;
}

export interface FdReader {
  /** The fds of tables[index]; tables must be asked for in order. */
  read(index: number): Promise<TableFds>;
  close(): Promise<void>;
}

/** Reads every listed fd of one table. */
export function readTableRecords(table: FdTableRef, inodes: InodeCache): TableFds {
  const records: FdRecord[] = [];
  let vanished = 0;
  for (const fd of table.fds) {
    const r = readFd(table, fd, inodes);
    if (r) records.push(r);
    else vanished++;
  }
  return { records, vanished };
}

const WORKER = new URL('./fdWorker.js', import.meta.url);

export function startFdReader(tables: FdTableRef[]): FdReader {
  return existsSync(fileURLToPath(WORKER)) ? new WorkerReader(tables) : new InlineReader(tables);
}

class InlineReader implements FdReader {
  private readonly inodes: InodeCache = new Map();

  constructor(private readonly tables: FdTableRef[]) {}

  read(index: number): Promise<TableFds> {
    return Promise.resolve(readTableRecords(this.tables[index]!, this.inodes));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class WorkerReader implements FdReader {
  private readonly worker: Worker;
  private readonly results = new Map<number, WireResult>();
  private waiting: { index: number; resolve: (r: WireResult) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;

  constructor(private readonly tables: FdTableRef[]) {
    const wire: WireTable[] = tables.map((t) => ({ name: t.name, holder: t.holder, users: t.users, fds: t.fds }));
    this.worker = new Worker(WORKER, { workerData: wire });
    this.worker.on('message', (r: WireResult) => {
      if (this.waiting?.index === r.index) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve(r);
      } else {
        this.results.set(r.index, r);
      }
    });
    this.worker.on('error', (e) => {
      this.failure = e;
      this.waiting?.reject(e);
    });
  }

  async read(index: number): Promise<TableFds> {
    let r = this.results.get(index);
    if (r) this.results.delete(index);
    else {
      if (this.failure) throw this.failure;
      r = await new Promise<WireResult>((resolve, reject) => (this.waiting = { index, resolve, reject }));
    }
    const table = this.tables[index]!;
    table.holder = r.holder;
    table.users = r.users;
    return { records: r.records.map((w) => fromWire(w, table)), vanished: r.vanished };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
