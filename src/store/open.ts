import { closeSync, mkdirSync, openSync, readSync, statSync, constants as fsc } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { latestVersion, loadMigrations, migrate, pendingMigrations } from './migrate.js';
import { TEXT_FUNCTIONS } from './textForms.js';

/** PRAGMA application_id of every ckptdb store: 'ckpt' in ASCII. */
export const APPLICATION_ID = 0x636b7074;
const SQLITE_MAGIC = 'SQLite format 3\0';
/** Page size of new stores. */
export const PAGE_SIZE = 16384;

export interface OpenOptions {
  /** Create the store (and its folder) when it does not exist. Default true. */
  create?: boolean;
  /** Open without writing: no migrations, every write refused by SQLite. */
  readonly?: boolean;
  /** How long a statement waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens (or creates) a store file and brings its schema up to date. Anything that is
 * not a ckptdb store of a version this build knows is refused before a single byte
 * of it is written.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Database.Database {
  const { create = true, readonly = false, busyTimeoutMs = 5000 } = opts;
  const size = fileSize(path);
  if (size === null) {
    if (!create || readonly) {
      throw new CkptdbError('STORE_NOT_FOUND', `no store at ${path}`, 'capture a checkpoint first, or name another store with --db');
    }
    createPrivateFile(path);
  }
  checkHeader(path);

  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, readonly, timeout: busyTimeoutMs });
  } catch (e) {
    throw new CkptdbError('STORE_CORRUPT', `cannot open ${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
  try {
    checkIdentity(db, path);
    if (!readonly) {
      // Only a new, empty file takes a page size, and only before WAL is set. 16 KiB
      // pages make large checkpoints about a tenth faster to write than SQLite's 4 KiB.
      if (size === null || size === 0) {
        db.pragma(`page_size = ${PAGE_SIZE}`);
        // The cache was sized in pages of the old size (4 KiB): four times the bytes
        // meant. Setting it again sizes it in the new pages: measured, 50 MiB less peak
        // RSS writing a checkpoint of a million fds into a new store.
        db.pragma(`cache_size = ${db.pragma('cache_size', { simple: true }) as number}`);
      }
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL: a committed checkpoint survives a crash of the process; only
      // a power loss can take back the last commits.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    registerTextFunctions(db);
    if (!readonly) migrate(db, loadMigrations());
    else if (pendingMigrations(db).length > 0) {
      throw new CkptdbError('SCHEMA_TOO_NEW', `store ${path} has an older schema than this ckptdb`, 'open it once for writing (e.g. `ckptdb list`) to upgrade it');
    }
    return db;
  } catch (e) {
    db.close();
    if (e instanceof CkptdbError) throw e;
    throw asStoreError(e, path);
  }
}

/** The text forms as SQL functions (migrations/0009_text_forms.sql): ckptdb's connections have them, a plain sqlite3 shell does not need them. */
function registerTextFunctions(db: Database.Database): void {
  for (const [name, fn] of Object.entries(TEXT_FUNCTIONS)) {
    db.function(name, { deterministic: true }, fn as (...args: unknown[]) => string | null);
  }
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CkptdbError('STORE_NOT_FOUND', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The store holds command lines and maybe environments: only its owner reads it. */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new CkptdbError('STORE_NOT_FOUND', `cannot create ${path}: ${(e as Error).message}`);
    }
  }
}

function checkHeader(path: string): void {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(100);
  let n: number;
  try {
    n = readSync(fd, head, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (n === 0) return; // a new, empty file: SQLite makes it a database
  if (n < 100 || head.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new CkptdbError('NOT_SQLITE', `${path} is not a SQLite database`, 'name a ckptdb store with --db, or a new file to create one');
  }
  const appId = head.readUInt32BE(68);
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw new CkptdbError('NOT_A_STORE', `${path} is a SQLite database of another application (application_id ${appId}), not a ckptdb store`);
  }
}

function checkIdentity(db: Database.Database, path: string): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (appId === APPLICATION_ID) {
    const known = latestVersion();
    if (version > known) {
      throw new CkptdbError('SCHEMA_TOO_NEW', `store ${path} has schema version ${version}, newer than this ckptdb knows (${known})`, 'upgrade ckptdb to read it');
    }
    return;
  }
  const objects = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
  if (appId !== 0 || objects > 0) {
    throw new CkptdbError('NOT_A_STORE', `${path} is a SQLite database but not a ckptdb store`, 'name a ckptdb store with --db, or a new file to create one');
  }
}

export function asStoreError(e: unknown, path: string): CkptdbError {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB') return new CkptdbError('NOT_SQLITE', `${path} is not a SQLite database`);
  if (code.startsWith('SQLITE_CORRUPT')) return new CkptdbError('STORE_CORRUPT', `store ${path} is corrupt: ${(e as Error).message}`, `restore it from a backup; \`sqlite3 ${path} .recover\` may save what is left`);
  if (code.startsWith('SQLITE_BUSY')) return new CkptdbError('STORE_BUSY', `store ${path} is busy: ${(e as Error).message}`, 'another ckptdb is writing; try again');
  if (code.startsWith('SQLITE_READONLY')) return new CkptdbError('READ_ONLY', `store ${path} is read-only here: ${(e as Error).message}`);
  return new CkptdbError('STORE_CORRUPT', `cannot use store ${path}: ${(e as Error).message}`, undefined, { cause: e });
}
