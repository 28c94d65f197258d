import { CkptdbError } from '../../errors.js';
import { sqlTokens } from '../sqlTokens.js';

/** A value bound to a parameter of a statement. */
export type SqlValue = string | number | bigint | boolean | Buffer | null;

/**
 * The `:name` parameters of ckptdb's SQL (and of ad-hoc queries) with their values
 * written in, as literals. PostgreSQL types a parameter from its first use and cannot
 * type `:pid IS NULL`; a literal it types from its value, as SQLite does. Strings are
 * dollar-quoted with a tag that ends them only where they end, so no character in them
 * can end them early.
 */
export function withValues(sql: string, params: Record<string, SqlValue | undefined>): string {
  let text = '';
  let from = 0;
  let prev: { text: string; at: number; kind: string } | null = null;
  for (const t of sqlTokens(sql, { postgres: true })) {
    const marker = prev !== null && prev.kind === 'punct' && prev.text === ':' && sql[prev.at - 1] !== ':' && t.kind === 'word' && t.at === prev.at + 1;
    if (marker) {
      const name = sql.slice(t.at, t.at + t.text.length);
      const v = params[name];
      if (v === undefined) throw new CkptdbError('MISSING_PARAMETER', `the query uses :${name} but no value was given`, `pass --param ${name}=VALUE`);
      text += `${sql.slice(from, prev!.at)}${literal(v)}`;
      from = t.at + t.text.length;
    }
    prev = t;
  }
  return text + sql.slice(from);
}

function literal(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new CkptdbError('BAD_ARGUMENT', `${v} cannot be a value in SQL`);
    // in parentheses, so that a minus sign never meets another one and starts a comment
    return v < 0 ? `(${String(v)})` : String(v);
  }
  if (Buffer.isBuffer(v)) return `'\\x${v.toString('hex')}'::bytea`;
  if (v.includes('\0')) throw new CkptdbError('BAD_ARGUMENT', 'a text value holds a NUL character, which PostgreSQL cannot store');
  let tag = 'v';
  for (let i = 0; !closesAtEnd(v, tag); i++) tag = `v${i}`;
  return `$${tag}$${v}$${tag}$`;
}

/**
 * Whether `$tag$` ends a string that holds v only where it is written after v: not
 * inside v, nor across its end ('a$v' then '$v$' would close as 'a' and leave 'v$').
 */
function closesAtEnd(v: string, tag: string): boolean {
  const delimiter = `$${tag}$`;
  return (v + delimiter).indexOf(delimiter) === v.length;
}
