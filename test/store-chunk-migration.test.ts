/**
 * Migration 0006 moves the bytes of the chunks a store already holds into packs: an
 * existing store keeps reading every file it kept, verifies clean, and new imports
 * share its chunks.
 */
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { verifyCriuStorage } from '../src/formats/criu/index.js';
import { ChunkReader, ChunkWriter, imageBytes } from '../src/store/chunks.js';
import { loadMigrations, migrate } from '../src/store/migrate.js';
import { APPLICATION_ID } from '../src/store/open.js';
import { tempStorePath } from './helpers/tmp.js';

/** A store as ckptdb made it before 0006: chunks with their bytes inline and refcounts kept by triggers. */
function oldStore(path: string, files: Record<string, Buffer>): void {
  const db = new Database(path);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  migrate(db, loadMigrations().filter((m) => m.version < 6));
  const cp = Number(db.prepare("INSERT INTO checkpoints (label, source, started_at, finished_at) VALUES ('old', 'criu', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')").run().lastInsertRowid);
  for (const [name, bytes] of Object.entries(files)) {
    const image = Number(db.prepare("INSERT INTO criu_images (checkpoint_id, name, kind, role, size) VALUES (?, ?, NULL, 'raw', ?)").run(cp, name, bytes.length).lastInsertRowid);
    for (let seq = 0; seq * 4096 < bytes.length; seq++) {
      const chunk = bytes.subarray(seq * 4096, (seq + 1) * 4096);
      const hash = createHash('sha256').update(chunk).digest();
      db.prepare('INSERT OR IGNORE INTO criu_chunks (hash, data) VALUES (?, ?)').run(hash, chunk);
      const id = db.prepare('SELECT id FROM criu_chunks WHERE hash = ?').pluck().get(hash);
      db.prepare('INSERT INTO criu_image_chunks (image_id, seq, chunk_id) VALUES (?, ?, ?)').run(image, seq, id);
    }
  }
  db.close();
}

describe('migration 0006 of an existing store', () => {
  it('keeps every chunk readable, in packs of their own, and a new import shares them', async () => {
    const path = tempStorePath();
    const page = randomBytes(4096);
    const files = { 'pages-1.img': Buffer.concat([page, randomBytes(4096), page, randomBytes(1000)]), 'dump.log': Buffer.from('a log\n') };
    oldStore(path, files);

    const store = openStore(path);
    expect(store.db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(6);
    const images = store.db.prepare('SELECT name, id FROM criu_images').all() as { name: string; id: number }[];
    for (const { name, id } of images) expect(imageBytes(store.db, id).equals(files[name as keyof typeof files])).toBe(true);
    expect(store.db.prepare('SELECT count(*) FROM criu_packs').pluck().get()).toBe(4);
    expect(verifyCriuStorage(store)).toEqual([]);
    expect(store.verify()).toEqual([]);

    // a new checkpoint holding the same page finds the old chunk
    const w = store.beginCheckpoint({ source: 'criu', label: 'new', host: null, frozen: true });
    const chunks = new ChunkWriter(store.db, w.checkpointId);
    const id = chunks.put({ name: 'pages-1.img', kind: null, role: 'raw', headMagic: null }, Buffer.concat([page, randomBytes(4096)]), null);
    await chunks.flush();
    w.done();
    expect(chunks.newBytes).toBe(4096);
    const reader = new ChunkReader(store.db);
    expect(reader.imageChunk(id, 0)!.equals(page)).toBe(true);

    // the old checkpoint goes; the page the new one shares stays, the rest goes with its packs
    store.deleteCheckpoint(1);
    expect(store.db.prepare('SELECT count(*) FROM criu_chunks').pluck().get()).toBe(2);
    expect(store.db.prepare('SELECT count(*) FROM criu_packs').pluck().get()).toBe(2);
    expect(verifyCriuStorage(store)).toEqual([]);
    expect(reader.imageChunk(id, 0)!.equals(page)).toBe(true);
    store.close();
  });
});
