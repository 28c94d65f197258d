/**
 * Just enough of SQLite's tokenizer to read the start of a statement: words,
 * quoted names, string and blob literals, numbers and punctuation, with comments and
 * white space skipped. The .sql file reader uses it to find where statements end;
 * the query guard to see what a statement is before SQLite prepares it, because
 * preparing some PRAGMAs already changes the connection.
 */
export type TokenKind = 'word' | 'name' | 'string' | 'number' | 'punct';

export interface Token {
  kind: TokenKind;
  /** The word upper-cased, a quoted name or string unquoted, anything else as written. */
  text: string;
  /** Where the token starts in the statement. */
  at: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

export interface TokenOptions {
  /**
   * PostgreSQL's forms too: dollar-quoted strings (`$$…$$`, `$tag$…$tag$`) and
   * escape strings (`E'it\'s'`), so that nothing inside them reads as SQL.
   */
  postgres?: boolean;
}

export function* sqlTokens(sql: string, opts: TokenOptions = {}): Generator<Token> {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const dollar = opts.postgres && c === '$' ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i)) : null;
    if (dollar) {
      const end = sql.indexOf(dollar[0], i + dollar[0].length);
      const stop = end < 0 ? n : end + dollar[0].length;
      yield { kind: 'string', text: sql.slice(i + dollar[0].length, end < 0 ? n : end), at: i };
      i = stop;
    } else if (opts.postgres && (c === 'e' || c === 'E') && sql[i + 1] === "'" && !WORD.test(sql[i - 1] ?? ' ')) {
      let j = i + 2;
      while (j < n && !(sql[j] === "'" && sql[j + 1] !== "'")) j += sql[j] === '\\' || sql[j] === "'" ? 2 : 1;
      yield { kind: 'string', text: sql.slice(i + 2, Math.min(j, n)), at: i };
      i = j + 1;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      let text = '';
      for (;;) {
        const k = sql.indexOf(close, j);
        if (k < 0) {
          text += sql.slice(j);
          j = n;
          break;
        }
        text += sql.slice(j, k);
        // a doubled quote stands for itself; brackets have no escape
        if (close !== ']' && sql[k + 1] === close) {
          text += close;
          j = k + 2;
        } else {
          j = k + 1;
          break;
        }
      }
      yield { kind: c === "'" ? 'string' : 'name', text, at: i };
      i = j;
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      const end = sql.indexOf("'", i + 2);
      yield { kind: 'string', text: sql.slice(i, end < 0 ? n : end + 1), at: i };
      i = end < 0 ? n : end + 1;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(sql[j]!)) j++;
      yield { kind: 'word', text: sql.slice(i, j).toUpperCase(), at: i };
      i = j;
    } else if (/[0-9.]/.test(c) && /[0-9]/.test(c === '.' ? (sql[i + 1] ?? '') : c)) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      yield { kind: 'number', text: sql.slice(i, j), at: i };
      i = j;
    } else {
      yield { kind: 'punct', text: c, at: i };
      i++;
    }
  }
}
