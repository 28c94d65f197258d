import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CkptdbError, type ErrorCode } from '../../errors.js';
import type { DiffIds, DiffRows, Pass } from './compute.js';
import type { DiffPaths } from './connection.js';
import type { Selection } from './fields.js';

/**
 * SQLite runs a statement on one core; the passes of a diff are independent, so on
 * large checkpoints a worker thread computes some of them on a connection of its own
 * (src/query/diff/worker.ts) while the caller computes the rest.
 */
export interface WorkerInput {
  paths: DiffPaths;
  ids: DiffIds;
  selection: Selection;
  passes: readonly Pass[];
}

export type WorkerOutput = { rows: DiffRows } | { error: { code?: ErrorCode; message: string; hint?: string } };

export interface WorkerRun {
  result: Promise<DiffRows>;
  stop(): void;
}

/**
 * Starts the passes in a worker thread; null when there is no compiled worker to run
 * (the library running from its TypeScript sources): the caller then runs them itself.
 */
export function startWorker(input: WorkerInput): WorkerRun | null {
  const url = new URL('./worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return null;
  const worker = new Worker(url, { workerData: input });
  const result = new Promise<DiffRows>((resolve, reject) => {
    worker.once('message', (m: WorkerOutput) => {
      if ('rows' in m) resolve(m.rows);
      else reject(m.error.code ? new CkptdbError(m.error.code, m.error.message, m.error.hint) : new Error(m.error.message));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`diff worker thread exited with status ${code}`)));
  });
  // Awaited only after the caller's own passes; a failure before then is not unhandled.
  result.catch(() => undefined);
  return { result, stop: () => void worker.terminate() };
}
