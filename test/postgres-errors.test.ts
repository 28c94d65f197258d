/**
 * What can go wrong reaching PostgreSQL is one line on stderr and exit 2, naming the
 * database without its password: a URL that leads nowhere, a refused login, a missing
 * database, a server that goes away in the middle of a query. And the schema is one in
 * two dialects: every migration has its PostgreSQL form, and a newer store is refused.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadMigrations } from '../src/store/migrate.js';
import { connect, disconnect } from '../src/store/postgres/connection.js';
import { loadPostgresMigrations, migratePostgres } from '../src/store/postgres/migrate.js';
import { CLI, runCli } from './helpers/cli.js';
import { PASSWORD_ROLE, startCluster } from './helpers/postgresCluster.js';
import { databaseOf, postgresMissing, testPostgres } from './helpers/postgres.js';
import { tempStorePath } from './helpers/tmp.js';

const missing = postgresMissing();
const ONE_LINE = /^ckptdb: [^\n]+\n$/;

describe('one schema in two dialects', () => {
  it('every migration has its PostgreSQL form beside it, under the same number and name', () => {
    const sqlite = loadMigrations();
    const postgres = loadPostgresMigrations();
    expect(postgres.map((m) => `${m.version}_${m.name}`)).toEqual(sqlite.map((m) => `${m.version}_${m.name}`));
    for (const [i, m] of postgres.entries()) expect(m.sql).not.toBe(sqlite[i]!.sql);
  });
});

describe.skipIf(missing)(`reaching PostgreSQL${missing ? ` (${missing})` : ''}`, () => {
  it('a URL that leads nowhere, a refused password, a missing database: one line, exit 2', async () => {
    const pg = testPostgres();
    const db = tempStorePath();
    expect((await runCli(['capture', String(process.pid)], { db })).code).toBe(0);
    const cases: [string, RegExp][] = [
      [`postgresql://postgres@/nothing?host=${encodeURIComponent('/nonexistent/socket/dir')}`, /^ckptdb: cannot reach PostgreSQL at postgresql:\/\/postgres@\/nothing\?host=.*: connect ENOENT /],
      ['postgres://postgres@127.0.0.1:1/db', /^ckptdb: cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/db: connect ECONNREFUSED 127\.0\.0\.1:1\n$/],
      [pg.url('postgres', PASSWORD_ROLE.name, 'wrong-password'), /^ckptdb: PostgreSQL at postgresql:\/\/ckptdb_pw:\*\*\*@\/postgres\?host=.* refused the login: password authentication failed for user "ckptdb_pw" \(check the user and password/],
      [pg.url('no_such_database'), /^ckptdb: PostgreSQL at .*: database "no_such_database" does not exist \(create it first/],
      ['postgres://%zz', /^ckptdb: /],
    ];
    for (const [url, message] of cases) {
      for (const args of [['--db', url, 'list'], ['push', '--to', url]]) {
        const r = await runCli(args, { db });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr, args.join(' ')).toMatch(ONE_LINE);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr).not.toContain('wrong-password');
      }
    }
    // the right password, from libpq's PGPASSWORD, gets in (to an empty database: no store yet)
    const r = await runCli(['--db', pg.url('postgres', PASSWORD_ROLE.name), 'list'], { db, env: { PGPASSWORD: PASSWORD_ROLE.password } });
    expect(r).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: no ckptdb store in PostgreSQL database .* \(push a checkpoint there first/) });
  });

  it('a store made by a newer ckptdb is refused, and so is a database of something else', async () => {
    const pg = testPostgres();
    const url = pg.database('newer');
    const db = tempStorePath();
    expect((await runCli(['capture', String(process.pid)], { db })).code).toBe(0);
    expect((await runCli(['push', '--to', url], { db })).code).toBe(0);
    pg.psql(databaseOf(url), "INSERT INTO schema_migrations VALUES (9999, 'future', 'then')");
    for (const args of [['--db', url, 'list'], ['push', '--to', url]]) {
      expect(await runCli(args, { db })).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: PostgreSQL store .* has schema version 9999, newer than this ckptdb knows \(\d+\) \(upgrade ckptdb to use it\)\n$/) });
    }
    const other = pg.database('other');
    pg.psql(databaseOf(other), 'CREATE TABLE accounts (id int)');
    expect(await runCli(['push', '--to', other], { db })).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: PostgreSQL database .* holds tables but no ckptdb store/) });
  });

  it('a store that lacks a migration numbered below its newest is refused to readers and given it by the next push', async () => {
    // as a store made before 0005 and 0009 landed, when it had 0008 already
    const pg = testPostgres();
    const url = pg.database('gap');
    const client = await connect(url);
    try {
      await migratePostgres(client, 'gap', loadPostgresMigrations().filter((m) => ![5, 9].includes(m.version)));
    } finally {
      await disconnect(client);
    }
    const db = tempStorePath();
    expect((await runCli(['capture', String(process.pid)], { db })).code).toBe(0);
    expect(await runCli(['--db', url, 'list'], { db })).toEqual({
      code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: PostgreSQL store .* has an older schema than this ckptdb \(it lacks 0005_file_details, 0009_text_forms\) \(push to it once with this ckptdb to upgrade it\)\n$/),
    });
    expect((await runCli(['push', '--to', url], { db })).code).toBe(0);
    const versions = pg.psql(databaseOf(url), 'SELECT version FROM schema_migrations ORDER BY applied_at, version').trim().split('\n').map(Number);
    expect(versions.sort((a, b) => a - b)).toEqual(loadPostgresMigrations().map((m) => m.version));
    expect(pg.psql(databaseOf(url), "SELECT flags_text(32770) || ' ' || count(*) FROM file_ttys").trim()).toBe('O_RDWR|O_LARGEFILE 0');
    expect((await runCli(['--db', url, 'list'], { db })).code).toBe(0);
  });

  it('a server that goes away in the middle of a query: one line, exit 2', async () => {
    const cluster = startCluster(testPostgres().binDir);
    try {
      cluster.psql('postgres', 'CREATE DATABASE gone');
      const url = cluster.url('gone');
      const db = tempStorePath();
      expect((await runCli(['capture', String(process.pid)], { db })).code).toBe(0);
      expect((await runCli(['push', '--to', url], { db })).code).toBe(0);
      const child = spawn(process.execPath, [CLI, '--db', url, 'query', 'SELECT pg_sleep(30)'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 20_000;
      while (cluster.psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'").trim() !== '1') {
        if (Date.now() > deadline) throw new Error('the query never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      cluster.stop();
      expect(await code).toBe(2);
      expect(stderr).toMatch(ONE_LINE);
      expect(stderr).toMatch(/^ckptdb: lost the connection to PostgreSQL at postgresql:\/\/postgres@\/gone\?host=/);
    } finally {
      cluster.stop();
    }
  });
});
