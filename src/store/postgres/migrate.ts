import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { CkptdbError } from '../../errors.js';
import { migrationsDir } from '../../paths.js';
import { queryOrLost } from './connection.js';
import { loadMigrations, type Migration } from '../migrate.js';

/**
 * The PostgreSQL form of every migration: `NNNN_name.pg.sql` beside `NNNN_name.sql`.
 * One schema in two dialects, so every SQLite migration must have its twin, under the
 * same number and name.
 */
export function loadPostgresMigrations(dir = migrationsDir): Migration[] {
  const forms = new Map<string, string>();
  for (const file of readdirSync(dir)) {
    const m = /^(\d{4}_[a-z0-9_]+)\.pg\.sql$/.exec(file);
    if (m) forms.set(m[1]!, readFileSync(join(dir, file), 'utf8'));
  }
  const list = loadMigrations(dir).map((mig) => {
    const stem = `${String(mig.version).padStart(4, '0')}_${mig.name}`;
    const sql = forms.get(stem);
    if (sql === undefined) throw new Error(`migrations/${stem}.sql has no PostgreSQL form ${stem}.pg.sql`);
    forms.delete(stem);
    return { ...mig, sql };
  });
  if (forms.size) throw new Error(`PostgreSQL migrations without a SQLite form: ${[...forms.keys()].join(', ')}`);
  return list;
}

/**
 * The migrations a database has (their versions), and how many tables it holds, which
 * decides whether a database without them is a store.
 */
async function schemaState(client: pg.Client): Promise<{ applied: Set<number>; version: number; tables: number }> {
  const r = await client.query<{ migrations: string | null; tables: number }>(
    `SELECT to_regclass('schema_migrations')::text AS migrations,
            (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())::int AS tables`,
  );
  const row = r.rows[0]!;
  if (row.migrations === null) return { applied: new Set(), version: 0, tables: row.tables };
  const v = await client.query<{ version: number }>('SELECT version::int AS version FROM schema_migrations');
  const applied = new Set(v.rows.map((m) => m.version));
  return { applied, version: Math.max(0, ...applied), tables: row.tables };
}

/** Refuses a database that is not a ckptdb store, or one of a schema this build does not know. */
function checkVersion(found: { version: number; tables: number }, latest: number, where: string): void {
  if (found.version === 0 && found.tables > 0) {
    throw new CkptdbError('NOT_A_STORE', `PostgreSQL database ${where} holds tables but no ckptdb store`, 'name an empty database, or one ckptdb pushed to');
  }
  if (found.version > latest) {
    throw new CkptdbError('SCHEMA_TOO_NEW', `PostgreSQL store ${where} has schema version ${found.version}, newer than this ckptdb knows (${latest})`, 'upgrade ckptdb to use it');
  }
}

/**
 * Brings a database up to this build's schema, each migration in a transaction with its
 * record in schema_migrations. Every migration the database has no record of is
 * applied, in order, also one numbered below the newest it has: migrations are numbered
 * as they are written and may land in another order, so a store made between two
 * landings gets the one that came late. An advisory lock makes two pushes that find one
 * new database apply each migration once.
 */
export async function migratePostgres(client: pg.Client, where: string, migrations = loadPostgresMigrations()): Promise<Migration[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  checkVersion(await schemaState(client), latest, where);
  const applied: Migration[] = [];
  for (const mig of migrations) {
    await client.query('BEGIN');
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('ckptdb migrations'))");
      const found = await schemaState(client);
      checkVersion(found, latest, where);
      if (!found.applied.has(mig.version)) {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`);
        await client.query(mig.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [mig.version, mig.name, new Date().toISOString()]);
        applied.push(mig);
      }
      await client.query('COMMIT');
    } catch (e) {
      await queryOrLost(client, 'ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  return applied;
}

/**
 * For readers, who may not write: the database must be a store at exactly this build's
 * schema. An older one is upgraded by the next push, which needs a role that may.
 */
export async function checkPostgresSchema(client: pg.Client, where: string): Promise<void> {
  const migrations = loadPostgresMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const found = await schemaState(client);
  checkVersion(found, latest, where);
  if (found.version === 0) {
    throw new CkptdbError('STORE_NOT_FOUND', `no ckptdb store in PostgreSQL database ${where}`, 'push a checkpoint there first: ckptdb push --to URL');
  }
  const lacking = migrations.filter((m) => !found.applied.has(m.version));
  if (lacking.length) {
    throw new CkptdbError('SCHEMA_TOO_NEW', `PostgreSQL store ${where} has an older schema than this ckptdb (it lacks ${lacking.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')})`, 'push to it once with this ckptdb to upgrade it');
  }
}
