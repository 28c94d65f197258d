import type { Command } from 'commander';
import type { QuerySession } from '../query/session.js';
import { storePath } from './context.js';

/**
 * Runs fn with a read-only query session on the store, closed on every way out.
 * Commands that only read use this rather than withStore, so they work on a store
 * they may not write and can never change it.
 */
export async function withQuerySession<T>(cmd: Command, fn: (session: QuerySession) => T | Promise<T>): Promise<T> {
  // loaded here, not at startup: kysely alone costs every command (capture too) a tenth of a second
  const { QuerySession } = await import('../query/session.js');
  const session = QuerySession.open(storePath(cmd));
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

/** For repeatable options: `--param a=1 --param b=2`. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const PARAM_HELP = 'bind :name to value; repeat for more. A plain decimal number binds as a number, anything else as text';
