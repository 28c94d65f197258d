/**
 * Ad-hoc SQL on PostgreSQL cannot write: every form of write, COPY, SET and call of a
 * function that changes state is refused with one line and exit 2, and the database
 * is, dump for dump, what it was.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CkptdbError, openStore } from '../src/index.js';
import { openReader } from '../src/query/reader.js';
import { writeBigCheckpoint } from '../bench/_bigCheckpoint.js';
import { runCli } from './helpers/cli.js';
import { databaseOf, postgresMissing, testPostgres } from './helpers/postgres.js';
import { tempStorePath } from './helpers/tmp.js';

const missing = postgresMissing();

const REFUSED = [
  "INSERT INTO checkpoints (source, started_at, finished_at, uuid) VALUES ('x', 'a', 'b', gen_random_uuid())",
  'UPDATE tasks SET comm = $$x$$',
  'DELETE FROM fds',
  'MERGE INTO tasks t USING tasks s ON t.id = s.id WHEN MATCHED THEN DELETE',
  'TRUNCATE fds',
  'WITH gone AS (DELETE FROM fds RETURNING *) SELECT count(*) FROM gone',
  'SELECT * INTO stolen FROM tasks',
  'CREATE TABLE x (a int)',
  'CREATE TEMP TABLE x (a int)',
  'DROP TABLE fds',
  'ALTER TABLE fds ADD COLUMN x int',
  'COPY fds TO STDOUT',
  "COPY fds FROM '/etc/passwd'",
  'SET statement_timeout = 0',
  'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
  'RESET ALL',
  "SELECT set_config('default_transaction_read_only', 'off', false)",
  "select PG_CATALOG.set_config('x.y', 'z', false)",
  "SELECT nextval('checkpoints_id_seq')",
  "SELECT setval('checkpoints_id_seq', 1000)",
  'SELECT pg_advisory_lock(1)',
  'SELECT pg_terminate_backend(pg_backend_pid())',
  'SELECT pg_reload_conf()',
  "SELECT lo_import('/etc/passwd')",
  "SELECT pg_notify('x', 'y')",
  "SELECT query_to_xml('DELETE FROM fds', true, true, '')",
  'SELECT * FROM tasks FOR UPDATE',
  'SELECT * FROM tasks FOR KEY SHARE',
  'SELECT 1; DELETE FROM fds',
  "DO $$ BEGIN DELETE FROM fds; END $$",
  'CALL something()',
  'LOCK TABLE fds',
  'VACUUM fds',
  'ANALYZE fds',
  'GRANT ALL ON fds TO PUBLIC',
  'COMMIT',
  'BEGIN',
  'PREPARE p AS DELETE FROM fds',
  'LISTEN x',
  'EXPLAIN ANALYZE DELETE FROM fds',
  "SELECT E'\\'' || $q$ $q$, set_config('a.b', 'c', false)",
];

describe.skipIf(missing)(`the read-only guard on PostgreSQL${missing ? ` (${missing})` : ''}`, () => {
  let url = '';
  let local = '';
  beforeAll(async () => {
    url = testPostgres().database('guard');
    local = tempStorePath();
    const store = openStore(local);
    writeBigCheckpoint(store, { fds: 500, services: 2, workersPerService: 2, host: 'web-1' });
    store.close();
    expect((await runCli(['push', '--to', url], { db: local })).code).toBe(0);
  });

  it('refuses every write form, and the database stays as it was', async () => {
    const pg = testPostgres();
    const before = pg.dump(databaseOf(url));
    const reader = await openReader(url);
    try {
      for (const sql of REFUSED) {
        const refused = await reader.sql(sql).then(() => null, (e: unknown) => e);
        expect(refused, sql).toBeInstanceOf(CkptdbError);
        expect((refused as CkptdbError).code, sql).toBe('READ_ONLY');
        expect((refused as CkptdbError).message, sql).toMatch(/^query refused: [^\n]+$/);
      }
      // the connection still reads, inside no transaction left over from a refusal
      expect((await reader.listCheckpoints()).length).toBe(1);
    } finally {
      await reader.close();
    }
    // as the command says it: one line, exit 2
    for (const sql of ['DELETE FROM fds', 'COPY fds TO STDOUT', 'SET statement_timeout = 0', "SELECT set_config('a.b', 'c', false)"]) {
      const r = await runCli(['--db', url, 'query', sql], { db: local });
      expect(r, sql).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: query refused: [^\n]+\n$/) });
    }
    expect(pg.dump(databaseOf(url))).toBe(before);
    expect(pg.psql(databaseOf(url), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ckptdb'").trim()).toBe('0');
  });

  it('answers what only reads, with parameters by name, and words of writes in strings or as names', async () => {
    const r = await runCli(['--db', url, 'query', "SELECT 'DELETE FROM fds; SET x' AS text, count(*) AS n FROM tasks WHERE comm LIKE :c", '-p', 'c=svc%', '--json'], { db: local });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ text: 'DELETE FROM fds; SET x', n: expect.any(Number) }]);
    const explained = await runCli(['--db', url, 'query', 'EXPLAIN SELECT * FROM open_fds WHERE checkpoint_id = 1'], { db: local });
    expect(explained.code, explained.stderr).toBe(0);
    const shown = await runCli(['--db', url, 'query', 'SHOW transaction_read_only', '--format', 'csv'], { db: local });
    expect(shown).toEqual({ code: 0, stdout: 'transaction_read_only\non\n', stderr: '' });
  });

  it('cancels a statement that runs past --timeout', async () => {
    const r = await runCli(['--db', url, 'query', 'SELECT pg_sleep(5)', '--timeout', '0.2'], { db: local });
    expect(r).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: PostgreSQL at postgresql:.* cancelled the query: canceling statement due to statement timeout\n$/) });
  });
});
