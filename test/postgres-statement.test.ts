/**
 * Values written into SQL for PostgreSQL (src/store/postgres/statement.ts) come back
 * from a real server as they went in: strings dollar-quoted so that nothing in them,
 * not even the tag itself at their end ('a$v'), closes them early.
 */
import { describe, expect, it } from 'vitest';
import { connect, disconnect } from '../src/store/postgres/connection.js';
import { withValues, type SqlValue } from '../src/store/postgres/statement.js';
import { postgresMissing, testPostgres } from './helpers/postgres.js';

const missing = postgresMissing();

/** Every string of up to `length` characters of the alphabet. */
function allStrings(alphabet: string, length: number): string[] {
  let level = [''];
  const out = [''];
  for (let n = 1; n <= length; n++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c));
    out.push(...level);
  }
  return out;
}

describe.skipIf(missing)(`values written into PostgreSQL's SQL${missing ? ` (${missing})` : ''}`, () => {
  it('gives back every string, also those that hold or end with the quoting tag', async () => {
    const chosen = [
      'a$v', '$v', '$v$', 'x$v$y', '$v0$', 'a$v$v0$v1', '$v$v0$v1$v2$', 'a$v0', 'a$v$v0', '$', '$$', 'x$', '$$v$$',
      "it's", "'; DROP TABLE t; --", '\\', '\\x00', 'line\nbreak', 'é ✓ 𝄞', '$1', ':p0', '-- not a comment', '/* nor this */',
    ];
    // and every string of up to five of the characters that make tags and quotes
    const values: SqlValue[] = [...chosen, ...allStrings('$v0\'', 5), null, 0, -1, 2 ** 53 - 1, -(2n ** 63n), true, Buffer.from('$v$\0', 'latin1')];
    const params = Object.fromEntries(values.map((v, i) => [`p${i}`, v]));
    const sql = `SELECT i, v::text AS v FROM (VALUES ${values.map((_v, i) => `(${i}, CAST(:p${i} AS text))`).join(', ')}) AS t (i, v) ORDER BY i`;
    const client = await connect(testPostgres().database('literal'));
    try {
      const text = withValues(sql, params);
      // the ending tag inside a value changed the tag: 'a$v' is not written as $v$a$v$v$
      expect(text).toContain('$v0$a$v$v0$');
      const rows = (await client.query<{ i: number; v: string | null }>(text)).rows;
      const want = values.map((v) => (v === null ? null : typeof v === 'boolean' ? String(v) : Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : String(v)));
      expect(rows.map((r) => r.v)).toEqual(want);
      expect(rows.length).toBeGreaterThan(1000);
    } finally {
      await disconnect(client);
    }
  });
});
