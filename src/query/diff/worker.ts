/** The worker thread of src/query/diff/parallel.ts: computes its passes and hands back the differences. */
import { parentPort, workerData } from 'node:worker_threads';
import { CkptdbError } from '../../errors.js';
import { DiffWork } from './compute.js';
import { checkpointRef, openDiffConnection } from './connection.js';
import type { WorkerInput, WorkerOutput } from './parallel.js';

function work({ paths, ids, selection, passes }: WorkerInput): WorkerOutput {
  try {
    const db = openDiffConnection(paths);
    try {
      // Both checkpoints must still be there in this connection's view of the stores.
      checkpointRef(db, 'a', ids.a, paths.a);
      checkpointRef(db, 'b', ids.b, paths.b);
      const diff = new DiffWork(db, ids, selection);
      diff.prepare(false);
      diff.run(passes);
      return { rows: diff.rows() };
    } finally {
      db.close();
    }
  } catch (e) {
    const err = e as { message: string; hint?: string };
    return { error: { code: e instanceof CkptdbError ? e.code : undefined, message: err.message, hint: err.hint } };
  }
}

parentPort!.postMessage(work(workerData as WorkerInput));
