/**
 * The threads that read /proc for a capture (captureSource.ts tells how the work is
 * shared). Each starts before it knows what to read, waits for its WorkerStart, then
 * runs to the end without yielding: it blocks on the shared counters (Atomics.wait)
 * when it may not go further, and takes the other worker's messages synchronously.
 */
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import { openKcmp } from '../kcmp.js';
import {
  deniedOf, listTables, PLACE_AHEAD, READ_AHEAD, S_CLAIM, S_LISTED, S_PLACED, S_READER_POSTED, S_STOP, S_WRITTEN,
  type Listing, type WorkerMessage, type WorkerStart,
} from './captureSource.js';
import { DetailsReader, type ProcessDetails } from './details.js';
import { readTable, type InodeCache, type TableRead, type TableState } from './fdRecords.js';
import { FilePlacer } from './filePlacer.js';
import { placeTable } from './placedTable.js';
import { readSockets, type SocketSeen } from './sockets.js';

/** Between the two workers. */
type PeerMessage =
  | { kind: 'listed'; listings: Listing[]; tables: TableState[] }
  | { kind: 'table'; index: number; read: TableRead; holder: number; users: number[] };

/** Processes whose details go in one message. */
const DETAILS_BATCH = 32;
/** How long a blocked worker sleeps before it looks at the stop flag again, in ms. */
const NAP_MS = 50;

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

/** Takes the next table to read, if it is listed and within the read-ahead window; -1 if none may be taken now, -2 when none are left. */
function claim(counters: Int32Array, tables: number): number {
  for (;;) {
    const next = Atomics.load(counters, S_CLAIM);
    if (next >= tables) return -2;
    if (next >= Atomics.load(counters, S_LISTED) || next >= Atomics.load(counters, S_PLACED) + READ_AHEAD) return -1;
    if (Atomics.compareExchange(counters, S_CLAIM, next, next + 1) === next) return next;
  }
}

function stopped(counters: Int32Array): boolean {
  return Atomics.load(counters, S_STOP) !== 0;
}

/** Lists the tables, reads the details of every process, then reads tables for the placer. */
function runReader(start: WorkerStart, counters: Int32Array): void {
  const { plan, port } = start;
  const listings = listTables(plan.tables, plan.skip.includes('fds'));
  const tell = (m: PeerMessage) => {
    port.postMessage(m);
    Atomics.add(counters, S_READER_POSTED, 1);
    Atomics.notify(counters, S_READER_POSTED);
  };
  tell({ kind: 'listed', listings, tables: plan.tables });
  Atomics.store(counters, S_LISTED, plan.tables.length);
  const denied = deniedOf(listings);
  post({ kind: 'listed', denied });

  const reader = new DetailsReader({ skip: new Set(plan.skip), withEnv: plan.withEnv }, (t) => denied[t] ?? null);
  let batch: ProcessDetails[] = [];
  for (const p of plan.processes) {
    if (stopped(counters)) return;
    const d = reader.read(p);
    if (d) batch.push(d);
    if (batch.length === DETAILS_BATCH) {
      post({ kind: 'details', processes: batch });
      batch = [];
    }
  }
  if (batch.length) post({ kind: 'details', processes: batch });
  post({ kind: 'detailsDone' });

  const inodes: InodeCache = new Map();
  for (;;) {
    if (stopped(counters)) return;
    const index = claim(counters, plan.tables.length);
    if (index === -2) return;
    if (index === -1) {
      Atomics.wait(counters, S_PLACED, Atomics.load(counters, S_PLACED), NAP_MS);
      continue;
    }
    const table = plan.tables[index]!;
    const listing = listings[index]!;
    const read = readTable(table, 'fds' in listing ? listing.fds : [], inodes);
    tell({ kind: 'table', index, read, holder: table.holder, users: table.users });
  }
}

/** Places every table in order, reading those it claims itself. */
function runPlacer(start: WorkerStart, counters: Int32Array): void {
  const { plan, port } = start;
  const tables = plan.tables;
  const access = plan.kcmp ? openKcmp() : null;
  const placer = new FilePlacer(access?.available ? access.kcmp : null, tables);
  const reads = new Map<number, TableRead>();
  const inodes: InodeCache = new Map();
  const sockets: SocketSeen[] = [];
  let listings: Listing[] | null = null;
  const receive = (m: PeerMessage) => {
    if (m.kind === 'listed') {
      listings = m.listings;
      m.tables.forEach((t, i) => Object.assign(tables[i]!, { holder: t.holder, users: t.users }));
    } else {
      Object.assign(tables[m.index]!, { holder: m.holder, users: m.users });
      reads.set(m.index, m.read);
    }
  };
  const drain = () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) receive(m.message as PeerMessage);
  };

  for (let next = 0; next < tables.length; ) {
    if (stopped(counters)) return;
    const seen = Atomics.load(counters, S_READER_POSTED);
    drain();
    const read = reads.get(next);
    if (read) {
      reads.delete(next);
      while (next - Atomics.load(counters, S_WRITTEN) >= PLACE_AHEAD) {
        if (stopped(counters)) return;
        Atomics.wait(counters, S_WRITTEN, Atomics.load(counters, S_WRITTEN), NAP_MS);
      }
      const placed = placeTable(placer, next, tables[next]!, read, sockets);
      parentPort!.postMessage({ kind: 'table', table: placed } satisfies WorkerMessage, [placed.fds.buffer as ArrayBuffer]);
      next++;
      Atomics.store(counters, S_PLACED, next);
      Atomics.notify(counters, S_PLACED);
      continue;
    }
    const index = listings ? claim(counters, tables.length) : -1;
    if (index >= 0) {
      const listing = listings![index]!;
      reads.set(index, readTable(tables[index]!, 'fds' in listing ? listing.fds : [], inodes));
      continue;
    }
    Atomics.wait(counters, S_READER_POSTED, seen, NAP_MS);
  }
  // the sockets are read while the last tables are written
  const read = plan.skip.includes('sockets') ? { details: new Map(), sources: [] } : readSockets(sockets);
  post({ kind: 'end', end: { sockets: read, kcmpCalls: access?.available ? access.kcmp.calls : 0 } });
}

parentPort!.once('message', (start: WorkerStart) => {
  const counters = new Int32Array(start.shared);
  try {
    if (start.role === 'reader') runReader(start, counters);
    else runPlacer(start, counters);
  } catch (e) {
    const err = e as Error;
    post({ kind: 'failed', message: err.message ?? String(e), stack: err.stack });
  }
});
