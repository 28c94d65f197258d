import Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { pendingMigrations } from '../store/migrate.js';
import { APPLICATION_ID, openDatabase } from '../store/open.js';
import { openStore } from '../store/store.js';
import { DENIED_FUNCTIONS } from './guard.js';

/**
 * A connection for reading only: opened with SQLITE_OPEN_READONLY, so SQLite refuses
 * every write to the store, with the functions that load code replaced by ones that
 * refuse (extension loading is off in better-sqlite3; this keeps it off whatever a
 * later version defaults to).
 *
 * A store of an older schema is upgraded first, through a connection of its own;
 * that is the only write, and only ever for a store made by an older ckptdb.
 */
export function openReadOnlyDatabase(path: string): Database.Database {
  if (schemaIsOlder(path)) openStore(path, { create: false }).close();
  const db = openDatabase(path, { readonly: true, create: false });
  for (const name of DENIED_FUNCTIONS) {
    db.function(name, { varargs: true, directOnly: true }, () => {
      throw new CkptdbError('READ_ONLY', `query refused: ${name}() is not available to queries`);
    });
  }
  return db;
}

function schemaIsOlder(path: string): boolean {
  let probe: Database.Database | undefined;
  try {
    probe = new Database(path, { readonly: true, fileMustExist: true });
    return probe.pragma('application_id', { simple: true }) === APPLICATION_ID && pendingMigrations(probe).length > 0;
  } catch {
    // openDatabase says what is wrong with the file
    return false;
  } finally {
    probe?.close();
  }
}
