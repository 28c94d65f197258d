import type { Command } from 'commander';
import { Option } from 'commander';
import { CkptdbError } from '../errors.js';
import { defaultStorePath } from '../paths.js';
import { openStore, type Store } from '../store/store.js';
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
 * add checkpoints create a store; the others refuse a path with no store at it.
 */
export async function withStore<T>(cmd: Command, mode: 'existing' | 'create', fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore(storePath(cmd), { create: mode === 'create' });
  try {
    return await fn(store);
  } finally {
    store.close();
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
