/**
 * A serving thread of a mount (server.ts starts them): a read-only connection of its
 * own to the store, and requests answered one after another until the mount goes away.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openReadOnlyDatabase } from '../query/connection.js';
import { serve } from './session.js';
import { StoreFs } from './storeFs.js';

export interface WorkerData {
  fd: number;
  store: string;
  stop: Int32Array;
  uid: number;
  gid: number;
}

export type WorkerMessage = { error: string } | { end: 'unmounted' | 'stopped' };

const data = workerData as WorkerData;
const port = parentPort!;
const db = openReadOnlyDatabase(data.store);
// Numbers of large checkpoints go to a temporary file past the cache, not to memory;
// the cache is 4 MiB a thread (the kernel's page cache holds the store too).
db.pragma('temp_store = FILE');
db.pragma('cache_size = -4000');
try {
  const fs = new StoreFs(db, { uid: data.uid, gid: data.gid });
  const end = serve(data.fd, fs, {
    stop: data.stop,
    onError: (e) => port.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies WorkerMessage),
  });
  port.postMessage({ end } satisfies WorkerMessage);
} finally {
  db.close();
}
