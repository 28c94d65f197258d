import type { Command } from 'commander';
import { Option } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { CkptdbError } from '../errors.js';
import { defaultStorePath } from '../paths.js';
import { isPostgresLocation, redactUrl } from '../store/postgres/location.js';
import type { Store } from '../store/store.js';
import { parseFormat, type OutputFormat } from './render.js';

/** The options every command inherits from the program. */
export interface GlobalOptions {
  db?: string;
}

export function storePath(cmd: Command): string {
  const { db } = cmd.optsWithGlobals<GlobalOptions>();
  return db || process.env.CKPTDB_DB || defaultStorePath();
}

/**
 * Runs fn with the store open, and closes it on every way out. Only commands that
 * add checkpoints create a store; the others refuse a path with no store at it. A
 * store this call created is removed again when fn fails before any checkpoint
 * landed in it, so a refused import leaves no empty store behind.
 */
export async function withStore<T>(cmd: Command, mode: 'existing' | 'create', fn: (store: Store) => T | Promise<T>): Promise<T> {
  const path = storePath(cmd);
  if (isPostgresLocation(path)) {
    throw new CkptdbError('BAD_ARGUMENT', `${cmd.name()} needs a local SQLite store, not PostgreSQL (${redactUrl(path)})`, 'capture and import into a local store, then `ckptdb push --to URL`');
  }
  // loaded here, not with the program: SQLite and the chunk store's codecs are no part of --help
  const { openStore } = await import('../store/store.js');
  const created = mode === 'create' && !existsSync(path);
  const store = openStore(path, { create: mode === 'create' });
  let failed = true;
  try {
    const result = await fn(store);
    failed = false;
    return result;
  } finally {
    const empty = failed && created && store.db.open && store.db.prepare('SELECT NOT EXISTS (SELECT 1 FROM checkpoints)').pluck().get() === 1;
    store.close();
    if (empty) for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
  }
}

/** `--format` and `--json`, the same on every command that prints rows. */
export function addFormatOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'output format: table, json, ndjson, csv or tsv'))
    .option('--json', 'short for --format json');
}

export function formatOf(cmd: Command): OutputFormat {
  const o = cmd.opts<{ format?: string; json?: boolean }>();
  return parseFormat(o.format, o.json);
}

export function parseId(value: string, what = 'checkpoint id'): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new CkptdbError('BAD_ARGUMENT', `${what} '${value}' is not a positive integer`);
  }
  return Number(value);
}

/** What a command tells a person goes to stderr; stdout is for data. */
export function say(message: string): void {
  process.stderr.write(message + '\n');
}
