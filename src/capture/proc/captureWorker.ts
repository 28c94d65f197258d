/**
 * The thread that reads /proc for a capture (captureSource.ts tells what and in which
 * order). It starts before it knows what to read, waits for its WorkerStart, then runs
 * to the end without yielding: when the tables it placed wait unwritten it blocks on
 * the shared counter (Atomics.wait) until the writing thread catches up.
 */
import { parentPort } from 'node:worker_threads';
import { openKcmp } from '../kcmp.js';
import { deniedOf, PLACE_AHEAD, Reading, S_STOP, S_WRITTEN, type WorkerMessage, type WorkerStart } from './captureSource.js';

/** How long a blocked worker sleeps before it looks at the stop flag again, in ms. */
const NAP_MS = 50;

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

function run({ plan, shared }: WorkerStart): void {
  const counters = new Int32Array(shared);
  const stopped = () => Atomics.load(counters, S_STOP) !== 0;
  const access = plan.kcmp ? openKcmp() : null;
  const reading = new Reading(plan, access?.available ? access.kcmp : null);
  post({ kind: 'listed', denied: deniedOf(reading.listings) });

  for (let index = 0; index < plan.tables.length; index++) {
    while (index - Atomics.load(counters, S_WRITTEN) >= PLACE_AHEAD) {
      if (stopped()) return;
      Atomics.wait(counters, S_WRITTEN, Atomics.load(counters, S_WRITTEN), NAP_MS);
    }
    if (stopped()) return;
    const table = reading.table(index);
    parentPort!.postMessage({ kind: 'table', table } satisfies WorkerMessage, [table.fds.buffer, table.inferred.buffer, table.numbers.buffer] as ArrayBuffer[]);
  }
  // the sockets are read while the last tables are written
  post({ kind: 'end', end: reading.end(true) });
}

parentPort!.once('message', (start: WorkerStart) => {
  try {
    run(start);
  } catch (e) {
    const err = e as Error;
    post({ kind: 'failed', message: err.message ?? String(e), stack: err.stack });
  }
});
