import { readFileSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, CkptdbError } from '../src/index.js';
import { loadMigrations, migrate } from '../src/store/migrate.js';
import { openReadOnlyDatabase } from '../src/query/connection.js';
import { tempStorePath } from './helpers/tmp.js';

describe('openStore', () => {
  it('creates a 0600 WAL store with every migration recorded', () => {
    const path = tempStorePath();
    const store = openStore(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('page_size', { simple: true })).toBe(16384);
    const versions = store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    expect(versions).toEqual(loadMigrations().map((m) => m.version));
    for (const table of ['checkpoints', 'tasks', 'fds', 'files', 'shared_objects']) {
      expect(store.db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table)).toBe(1);
    }
    store.close();
  });

  it('keeps the page size of a store made with another one', () => {
    const path = tempStorePath();
    const made = new Database(path);
    made.pragma('page_size = 4096');
    made.exec('CREATE TABLE t (x)');
    made.exec('DROP TABLE t');
    made.close();
    const store = openStore(path);
    expect(store.db.pragma('page_size', { simple: true })).toBe(4096);
    store.close();
  });

  it('applies no migration when reopened', () => {
    const path = tempStorePath();
    openStore(path).close();
    const store = openStore(path);
    const applied = store.db.prepare('SELECT applied_at FROM schema_migrations').pluck().all();
    expect(applied.length).toBe(loadMigrations().length);
    store.close();
    const again = openStore(path);
    expect(again.db.prepare('SELECT applied_at FROM schema_migrations').pluck().all()).toEqual(applied);
    again.close();
  });

  it('applies a migration numbered below the newest the store has, when it has no record of it', () => {
    // a store made by a ckptdb that had 0009 but not yet 0008: migrations land in another order than their numbers
    const path = tempStorePath();
    const made = new Database(path);
    migrate(made, loadMigrations().filter((m) => m.version !== 8));
    made.exec("INSERT INTO checkpoints (source, started_at, finished_at) VALUES ('proc', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')");
    const newest = made.pragma('user_version', { simple: true });
    made.close();
    // a reader upgrades it first, as it does a store of an older schema
    const db = openReadOnlyDatabase(path);
    expect(db.prepare('SELECT uuid FROM checkpoints').pluck().get()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(loadMigrations().map((m) => m.version));
    expect(db.pragma('user_version', { simple: true })).toBe(newest);
    db.close();
    const store = openStore(path);
    expect(store.db.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(loadMigrations().length);
    store.close();
  });

  it('refuses a store with a newer schema and leaves its bytes alone', () => {
    const path = tempStorePath();
    const store = openStore(path);
    store.db.pragma('user_version = 9999');
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    const before = readFileSync(path);
    expect(() => openStore(path)).toThrowError(/schema version 9999, newer than this ckptdb knows/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses a file that is not SQLite, unchanged', () => {
    const path = tempStorePath();
    writeFileSync(path, 'hello, this is not a database at all, but it is long enough to have a header of a hundred bytes or so.');
    const before = readFileSync(path);
    const err = (() => {
      try {
        openStore(path);
      } catch (e) {
        return e as CkptdbError;
      }
    })();
    expect(err?.code).toBe('NOT_SQLITE');
    expect(err?.message).toBe(`${path} is not a SQLite database`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses a SQLite database of another application, unchanged', () => {
    const path = tempStorePath();
    const other = new Database(path);
    other.exec('CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES (\'soup\')');
    other.close();
    const before = readFileSync(path);
    expect(() => openStore(path)).toThrowError(/is a SQLite database but not a ckptdb store/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('does not create a store when asked to open an existing one', () => {
    const path = tempStorePath();
    expect(() => openStore(path, { create: false })).toThrowError(/no store at/);
    expect(() => statSync(path)).toThrow();
  });
});
