/**
 * A serving thread of a mount (server.ts starts them): a read-only connection of its
 * own to the store, ready before anything is mounted, then requests answered one after
 * another until the mount goes away.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openReadOnlyDatabase } from '../query/connection.js';
import { serve } from './session.js';
import { RequestStats } from './stats.js';
import { StoreFs } from './storeFs.js';
import { GO, type WorkerData, type WorkerMessage } from './threads.js';

const data = workerData as WorkerData;
const port = parentPort!;
const say = (m: WorkerMessage) => port.postMessage(m);
const text = (e: unknown) => (e instanceof Error ? e.message : String(e));

let fs: StoreFs | null = null;
let db: ReturnType<typeof openReadOnlyDatabase> | null = null;
try {
  db = openReadOnlyDatabase(data.store);
  // Numbers of large checkpoints go to a temporary file past the cache, not to memory;
  // the cache is 4 MiB a thread (the kernel's page cache holds the store too).
  db.pragma('temp_store = FILE');
  db.pragma('cache_size = -4000');
  fs = new StoreFs(db, { uid: data.uid, gid: data.gid });
  say({ ready: true });
} catch (e) {
  say({ failed: text(e) });
}
try {
  if (fs) {
    Atomics.wait(data.control, 1, 0);
    const stats = process.env.CKPTDB_MOUNT_STATS ? new RequestStats() : undefined;
    if (Atomics.load(data.control, 1) === GO) say({ end: serve(data.fd, fs, { stop: data.control, onError: (e) => say({ error: text(e) }), stats }) });
    if (stats) process.stderr.write(`${stats.report()}\n`);
  }
} finally {
  db?.close();
}
