import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import type { Params } from './params.js';
import type { TextColumn } from './textColumns.js';

export type Row = Record<string, unknown>;

/**
 * What a query gives back: its column names, known before any row, and its rows,
 * read one at a time from SQLite as they are iterated, so a million rows never sit
 * in memory. The rows can be iterated once.
 */
export interface QueryResult {
  columns: string[];
  rows: IterableIterator<Row>;
  /** Text forms the renderer adds (a canned query's `-- text:` header); none for ad-hoc SQL. */
  text: TextColumn[];
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Runs a prepared statement. Integers are read as bigints and turned into numbers
 * where that is exact, so a position or inode above 2^53 keeps every digit. Two
 * columns of one name (`a.id, b.id`) are told apart as id and id_2.
 */
export function runStatement(stmt: Database.Statement, params: Params): QueryResult {
  const columns = uniqueNames(stmt.columns().map((c) => c.name));
  stmt.safeIntegers(true).raw(true);
  try {
    // bound now, so a missing parameter is an error of this call; run when first read
    stmt.bind(params);
  } catch (e) {
    throw bindError(e);
  }
  function* rows(): IterableIterator<Row> {
    const iterator = stmt.iterate() as IterableIterator<unknown[]>;
    try {
      yield* convert(iterator);
    } finally {
      // a reader that stops early (| head) frees the connection for the next query
      iterator.return?.();
    }
  }
  function* convert(iterator: IterableIterator<unknown[]>): IterableIterator<Row> {
    for (;;) {
      let next: IteratorResult<unknown[]>;
      try {
        next = iterator.next();
      } catch (e) {
        throw e instanceof CkptdbError ? e : new CkptdbError('SQL_ERROR', `SQL error: ${(e as Error).message}`, undefined, { cause: e });
      }
      if (next.done) return;
      const row: Row = {};
      for (let i = 0; i < columns.length; i++) {
        const v = next.value[i];
        row[columns[i]!] = typeof v === 'bigint' && v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
      }
      yield row;
    }
  }
  return { columns, rows: rows(), text: [] };
}

function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n}_${k}`;
  });
}

function bindError(e: unknown): CkptdbError {
  const message = (e as Error).message ?? String(e);
  const missing = /Missing named parameter "([^"]+)"/.exec(message);
  if (missing) {
    return new CkptdbError('MISSING_PARAMETER', `the query uses :${missing[1]} but no value was given`, `pass --param ${missing[1]}=VALUE`);
  }
  return new CkptdbError('SQL_ERROR', `SQL error: ${message}`, undefined, { cause: e });
}
