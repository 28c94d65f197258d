import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { asStoreError } from '../../store/open.js';
import { noSuchCheckpoint } from '../../store/store.js';
import { openReadOnlyDatabase } from '../connection.js';
import { sideSql } from './compute.js';
import type { CheckpointRef } from './types.js';

/** The store files of the two checkpoints; the same file when both are in one store. */
export interface DiffPaths {
  a: string;
  b: string;
}

/**
 * A read-only connection with the store of A attached as `a` and the store of B as `b`.
 * Each store is checked (a SQLite file, a ckptdb store, a schema this build reads; an
 * older schema upgraded first, as every read-only session does) by opening it as the
 * query layer opens a store. A read-only connection cannot write to anything it
 * attaches; its TEMP tables hold the differences. It is returned inside a read
 * transaction, so all it reads comes from one state of both stores.
 */
export function openDiffConnection(paths: DiffPaths): Database.Database {
  if (paths.b !== paths.a) openReadOnlyDatabase(paths.b).close();
  const db = openReadOnlyDatabase(paths.a);
  try {
    const attach = db.prepare('ATTACH DATABASE ? AS ?');
    attach.run(paths.a, 'a');
    attach.run(paths.b, 'b');
    db.exec('BEGIN');
    return db;
  } catch (e) {
    db.close();
    throw e instanceof CkptdbError ? e : asStoreError(e, paths.b);
  }
}

/** One side's checkpoint as this connection sees it; a missing one is an error. */
export function checkpointRef(db: Database.Database, side: 'a' | 'b', id: number, path: string): CheckpointRef {
  const row = db.prepare(sideSql('checkpoint_ref', side)).get({ id }) as Omit<CheckpointRef, 'store'> | undefined;
  if (!row) throw noSuchCheckpoint(id, path);
  return { store: path, ...row };
}
