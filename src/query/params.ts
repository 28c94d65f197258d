import { CkptdbError } from '../errors.js';
import type { Token } from '../store/sqlTokens.js';

/** A value bound to a named parameter. */
export type ParamValue = string | number | bigint | null;
export type Params = Record<string, ParamValue>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `name=value` pairs, as given on the command line, to named parameters. A value
 * written as a plain decimal number binds as a number (an integer above 2^53 as an
 * exact bigint); anything else, including `007` or `1e3`, binds as text.
 */
export function parseParams(pairs: readonly string[]): Params {
  const params: Params = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !NAME.test(name)) {
      throw new CkptdbError('BAD_ARGUMENT', `--param ${pair}: expected name=value, with a name of letters, digits and _`);
    }
    if (name in params) throw new CkptdbError('BAD_ARGUMENT', `--param ${name} is given twice`);
    params[name] = paramValue(pair.slice(eq + 1));
  }
  return params;
}

export function paramValue(text: string): ParamValue {
  if (/^-?(0|[1-9]\d*)$/.test(text)) {
    const n = BigInt(text);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (/^-?(0|[1-9]\d*)\.\d+$/.test(text)) return Number(text);
  return text;
}

/** The named parameters a statement uses (`:name`, `@name`, `$name`), in order of first use. */
export function parameterNames(tokens: Iterable<Token>, sql: string): string[] {
  const names: string[] = [];
  let prev: Token | null = null;
  for (const t of tokens) {
    // `::text` is PostgreSQL's cast, not a parameter
    const cast = prev?.text === ':' && sql[prev.at - 1] === ':';
    if (prev && prev.kind === 'punct' && ':@$'.includes(prev.text) && t.kind === 'word' && t.at === prev.at + 1 && !cast) {
      const name = sql.slice(t.at, t.at + t.text.length);
      if (!names.includes(name)) names.push(name);
    }
    prev = t;
  }
  return names;
}
