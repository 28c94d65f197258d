/**
 * The thread that reads /proc for a capture (captureSource.ts tells what and in which
 * order). It starts before it knows what to read, lists the fd directories of the
 * processes meanwhile, waits for its WorkerStart, then runs to the end without
 * yielding: when the tables it placed wait unwritten it blocks on the shared counter
 * (Atomics.wait) until the writing thread catches up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openKcmp } from '../kcmp.js';
import { FD_STRIDE, type PlacedTable } from './placedTable.js';
import {
  deniedOf, listEarly, PLACE_AHEAD_FDS, PLACE_AHEAD_TABLES, Reading, S_STOP, S_WRITTEN, type EarlyListings, type WorkerData, type WorkerMessage, type WorkerStart,
} from './captureSource.js';

/** How long a blocked worker sleeps before it looks at the stop flag again, in ms. */
const NAP_MS = 50;

/**
 * Placed tables go to the writing thread some at a time: a message costs the sender
 * about 0.3 ms of CPU besides its data (measured), which one per table of a hundred
 * fds made a fifth of this thread's time. Larger messages raised the peak RSS of a
 * capture of 200,000 fds by 10 MiB (2,048 fds each), smaller ones cost CPU again.
 */
const POST_FDS = 512;
const POST_TABLES = 64;

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

function run({ plan, shared }: WorkerStart): void {
  const counters = new Int32Array(shared);
  const stopped = () => Atomics.load(counters, S_STOP) !== 0;
  const access = plan.kcmp ? openKcmp() : null;
  const reading = new Reading(plan, access?.available ? access.kcmp : null, takeEarly());
  post({ kind: 'listed', denied: deniedOf(reading.listings) });

  // fds placed in tables before each index: ends[i] counts those of tables 0 .. i - 1
  const ends = new Float64Array(plan.tables.length + 1);
  const waiting = (index: number, written: number) =>
    index > written && (index - written >= PLACE_AHEAD_TABLES || ends[index]! - ends[written]! >= PLACE_AHEAD_FDS);
  let batch: PlacedTable[] = [];
  let batchFds = 0;
  const send = () => {
    if (!batch.length) return;
    const transfer = batch.flatMap((t) => [t.fds.buffer, t.inferred.buffer, t.numbers.buffer]) as ArrayBuffer[];
    parentPort!.postMessage({ kind: 'tables', tables: batch } satisfies WorkerMessage, transfer);
    batch = [];
    batchFds = 0;
  };
  for (let index = 0; index < plan.tables.length; index++) {
    for (let written = Atomics.load(counters, S_WRITTEN); waiting(index, written); written = Atomics.load(counters, S_WRITTEN)) {
      // what waits for the writer must have reached it
      send();
      if (stopped()) return;
      Atomics.wait(counters, S_WRITTEN, written, NAP_MS);
    }
    if (stopped()) return;
    const table = reading.table(index);
    const fds = table.fds.length / FD_STRIDE;
    ends[index + 1] = ends[index]! + fds;
    batch.push(table);
    batchFds += fds;
    if (batchFds >= POST_FDS || batch.length >= POST_TABLES) send();
  }
  send();
  // the sockets are read while the last tables are written
  post({ kind: 'end', end: reading.end(true) });
}

// while the writing thread reads the tasks: the fd directories most tables are read through
let early: EarlyListings | null = listEarly((workerData as WorkerData).listEarly);

/** The early listings, handed over once: the tables keep what they take, the rest goes. */
function takeEarly(): EarlyListings | undefined {
  const taken = early ?? undefined;
  early = null;
  return taken;
}

parentPort!.once('message', (start: WorkerStart) => {
  try {
    run(start);
  } catch (e) {
    const err = e as Error;
    post({ kind: 'failed', message: err.message ?? String(e), stack: err.stack });
  }
});
