import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../store.js';
import { pullCheckpoint } from './pull.js';

/**
 * Runs fn on a checkpoint of a PostgreSQL store pulled into a scratch SQLite store of
 * its own (a folder only its owner reads, removed on every way out), with the ids it
 * has in PostgreSQL: what SQLite's exporters and diff read (diff with hashesOnly: see pullCheckpoint), streamed in and out, so
 * memory stays flat however large the checkpoint. The scratch store's path is given
 * too, for what opens it again.
 */
export async function withPulledCheckpoint<T>(url: string, id: number, fn: (store: Store, path: string) => T | Promise<T>, opts: { hashesOnly?: boolean } = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-pull-'));
  try {
    const path = join(dir, 'checkpoint.sqlite');
    const store = openStore(path);
    try {
      await pullCheckpoint(store.db, url, id, { sameIds: true, hashesOnly: opts.hashesOnly });
      return await fn(store, path);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
