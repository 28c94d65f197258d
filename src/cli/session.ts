import type Database from 'better-sqlite3';
import { Option, type Command } from 'commander';
import type { Reader } from '../query/reader.js';
import { isPostgresLocation } from '../store/postgres/location.js';
import { storePath } from './context.js';

/**
 * Runs fn with a reader on the store, a SQLite file or a PostgreSQL database, closed on
 * every way out. Commands that only read use this rather than withStore, so they work
 * on a store they may not write, and on PostgreSQL, and can never change either.
 */
export async function withReader<T>(cmd: Command, fn: (reader: Reader) => T | Promise<T>): Promise<T> {
  // loaded here, not at startup: kysely and pg cost every command (capture too) a tenth of a second
  const { openReader } = await import('../query/reader.js');
  const reader = await openReader(storePath(cmd));
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

/**
 * Runs fn on a SQLite connection that holds a checkpoint (the given one, or the newest),
 * for what reads its bytes through the store layer (mem): a read-only session on a
 * SQLite store, or, for a PostgreSQL store, the checkpoint pulled into a scratch store
 * of its own, which needs its memory pages pushed (push --with-pages).
 */
export async function withCheckpointDb<T>(cmd: Command, id: number | undefined, fn: (db: Database.Database, id: number) => T | Promise<T>): Promise<T> {
  const location = storePath(cmd);
  if (isPostgresLocation(location)) {
    const checkpoint = await withReader(cmd, (reader) => reader.checkpointId(id));
    const { withPulledCheckpoint } = await import('../store/postgres/scratch.js');
    return withPulledCheckpoint(location, checkpoint, (store) => fn(store.db, checkpoint));
  }
  const { QuerySession } = await import('../query/session.js');
  const session = QuerySession.open(location);
  try {
    return await fn(session.db, session.checkpointId(id));
  } finally {
    session.close();
  }
}

/** `--host H`: the checkpoints of one host; the newest checkpoint is then the newest of that host. */
export function addHostOption(cmd: Command, what = 'the newest checkpoint of this host (an id given must be of it)'): Command {
  return cmd.addOption(new Option('--host <host>', what));
}

export function hostOf(cmd: Command): string | undefined {
  return cmd.opts<{ host?: string }>().host;
}

/** For repeatable options: `--param a=1 --param b=2`. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const PARAM_HELP = 'bind :name to value; repeat for more. A plain decimal number binds as a number, anything else as text';
