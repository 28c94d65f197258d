import type Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { StoreSchema } from '../store/schema.js';
import { openReadOnlyDatabase } from './connection.js';

/**
 * A typed kysely instance over a store's better-sqlite3 connection: tables and views
 * with the schema's column types. `destroy()` closes that connection.
 *
 * Integers come back as JS numbers, exact up to 2^53; for positions or inodes above
 * that, call `db.defaultSafeIntegers(true)` first and read bigints.
 */
export function storeKysely(db: Database.Database): Kysely<StoreSchema> {
  return new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: db }) });
}

/** A typed kysely instance on a read-only connection of its own to the store at `path`. */
export function openStoreKysely(path: string): Kysely<StoreSchema> {
  return storeKysely(openReadOnlyDatabase(path));
}
