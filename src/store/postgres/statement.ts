import { CkptdbError } from '../../errors.js';
import { sqlTokens } from '../sqlTokens.js';

/** A value bound to a parameter of a statement. */
export type SqlValue = string | number | bigint | boolean | Buffer | null;

/** A statement in PostgreSQL's form: `$1`, `$2` for its parameters, and their values. */
export interface PositionalStatement {
  text: string;
  values: SqlValue[];
  /** The parameter names, by position. */
  names: string[];
}

/**
 * The `:name` parameters of ckptdb's SQL (and of ad-hoc queries) as `$n`: one number per
 * name, however often the name is used. A name with no value is an error naming it.
 */
export function positional(sql: string, params: Record<string, SqlValue | undefined>): PositionalStatement {
  const names: string[] = [];
  let text = '';
  let from = 0;
  let prev: { text: string; at: number; kind: string } | null = null;
  for (const t of sqlTokens(sql, { postgres: true })) {
    const marker = prev !== null && prev.kind === 'punct' && prev.text === ':' && sql[prev.at - 1] !== ':' && t.kind === 'word' && t.at === prev.at + 1;
    if (marker) {
      const name = sql.slice(t.at, t.at + t.text.length);
      let n = names.indexOf(name);
      if (n < 0) n = names.push(name) - 1;
      text += `${sql.slice(from, prev!.at)}$${n + 1}`;
      from = t.at + t.text.length;
    }
    prev = t;
  }
  text += sql.slice(from);
  const values = names.map((name) => {
    const v = params[name];
    if (v === undefined) throw new CkptdbError('MISSING_PARAMETER', `the query uses :${name} but no value was given`, `pass --param ${name}=VALUE`);
    return typeof v === 'bigint' ? v.toString() : v;
  });
  return { text, values, names };
}
