import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { migrationsDir } from '../paths.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** `migrations/NNNN_name.sql`, in version order. */
export function loadMigrations(dir = migrationsDir): Migration[] {
  const list: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    list.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  list.sort((a, b) => a.version - b.version);
  list.forEach((mig, i) => {
    if (i > 0 && list[i - 1]!.version === mig.version) throw new Error(`two migrations numbered ${mig.version}`);
  });
  return list;
}

export function latestVersion(migrations = loadMigrations()): number {
  return migrations.at(-1)?.version ?? 0;
}

/**
 * The migrations a store has no record of in `schema_migrations`, in version order:
 * all of them for a new store. Migrations are numbered as they are written and may
 * land in another order, so one numbered below the store's newest can be among them.
 */
export function pendingMigrations(db: Database.Database, migrations = loadMigrations()): Migration[] {
  const recorded = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").pluck().get() === 1
    ? new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
    : new Set<number>();
  return migrations.filter((m) => !recorded.has(m.version));
}

/**
 * Applies every migration the store has no record of in one transaction, each with its
 * record in `schema_migrations`, and `user_version` (the newest version applied): a
 * crash leaves the store as it was. What is pending is read inside the transaction:
 * two processes opening a new store at once apply each migration once. One
 * transaction also writes each page once, however many of the migrations change it:
 * a new store takes less room in the write-ahead log than all the steps would.
 */
export function migrate(db: Database.Database, migrations = loadMigrations()): Migration[] {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  if (!pendingMigrations(db, migrations).length) return [];
  const applied: Migration[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const mig of pendingMigrations(db, migrations)) {
      // (the text as stores of every version have it: sqlite_master keeps it)
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
      db.exec(mig.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(mig.version, mig.name, new Date().toISOString());
      db.pragma(`user_version = ${Math.max(version(), mig.version)}`);
      applied.push(mig);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
  return applied;
}
