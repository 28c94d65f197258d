/**
 * push and pull against a real PostgreSQL: idempotent by uuid, all or nothing per
 * checkpoint (also when the pushing process is killed mid-COPY), two hosts at once,
 * CRIU pages only when asked for, and what comes back (pull, export, diff) is what went.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { writeBigCheckpoint } from '../bench/_bigCheckpoint.js';
import { CLI, runCli } from './helpers/cli.js';
import { buildFixtureWithoutZombie } from './helpers/criuFixture.js';
import { databaseOf, postgresMissing, testPostgres } from './helpers/postgres.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { useFixture } from './helpers/useCriuFixture.js';

const missing = postgresMissing();

/** A store holding one checkpoint of `fds` fds, taken on `host`. */
function storeOf(host: string, fds: number): string {
  const path = tempStorePath();
  const store = openStore(path);
  writeBigCheckpoint(store, { fds, services: 4, workersPerService: 3, host });
  store.close();
  return path;
}

async function ok(args: string[], db: string) {
  const r = await runCli(args, { db });
  if (r.code !== 0) throw new Error(`ckptdb ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

function count(db: string, sql: string): number {
  return Number(testPostgres().psql(db, sql).trim());
}

describe.skipIf(missing)(`ckptdb push and pull${missing ? ` (${missing})` : ''}`, () => {
  const criuDir = useFixture(buildFixtureWithoutZombie);

  it('pushes every checkpoint once: a second push copies nothing and says so', async () => {
    const pg = testPostgres();
    const url = pg.database('push');
    const db = storeOf('web-1', 3000);
    await ok(['capture', String(process.pid)], db);
    const first = await ok(['push', '--to', url], db);
    expect(first.stdout).toBe('1\n2\n');
    expect(first.stderr).toMatch(/^pushed checkpoint 1 to postgresql:\/\/postgres@\/push_\w+\?host=\S+ as 1 \(\d+ rows\)\npushed checkpoint 2 to .* as 2 \(\d+ rows\)\n$/);
    const dump = pg.dump(databaseOf(url));
    const again = await runCli(['push', '--to', url], { db });
    expect(again).toEqual({ code: 0, stdout: '', stderr: expect.stringMatching(/^nothing to push: postgresql:.* holds every checkpoint of /) });
    const named = await runCli(['push', '2', '--to', url], { db });
    expect(named).toEqual({ code: 0, stdout: '2\n', stderr: expect.stringMatching(/^checkpoint 2 is in .* already, as 2: nothing pushed\n$/) });
    expect(pg.dump(databaseOf(url))).toBe(dump);
    // what went is what is there: every row, the uuid of each checkpoint
    const local = JSON.parse((await ok(['list', '--json'], db)).stdout) as unknown[];
    const remote = JSON.parse((await ok(['--db', url, 'list', '--json'], db)).stdout) as unknown[];
    expect(remote).toEqual(local);
    expect(count(databaseOf(url), 'SELECT count(*) FROM fds')).toBe(3000 + (local[1] as { fds: number }).fds);
    // every reading command prints what it prints on SQLite (the ids are the same here)
    // (with their text forms: the table shows them in place of the raw columns, CSV and JSON beside them)
    const commands = [
      ['show', '2'], ['ps', '2'], ['fds', '2', '--format', 'csv'], ['objects', '2', '--shared'], ['q', 'shared_files', '-p', 'checkpoint=1'],
      ['ps', '--host', 'web-1', '--json'], ['q', 'epoll_watches', '-p', 'checkpoint=2', '--json'], ['graph', '2', '--format', 'json'],
    ];
    const printed = new Map<string, string>();
    for (const args of commands) {
      const onSqlite = await ok(args, db);
      expect(await ok(['--db', url, ...args], db), args.join(' ')).toEqual(onSqlite);
      printed.set(args[0] === 'q' ? args[1]! : args[0]!, onSqlite.stdout);
    }
    expect(printed.get('fds')!.split('\n')[0]).toBe('pid,tid,comm,fd,fd_text,cloexec,type,type_text,path,pos,flags,flags_text,mode,mode_text,deleted,file_id,shared,object_kind,object_key');
    // this process waits on an epoll (libuv's)
    expect(JSON.parse(printed.get('epoll_watches')!).length).toBeGreaterThan(0);
    const drawn = await runCli(['diff', '1', '2', '--format', 'dot'], { db });
    expect(drawn.code, drawn.stderr).toBe(1);
    expect(await runCli(['--db', url, 'diff', '1', '2', '--format', 'dot'], { db })).toEqual(drawn);
    const uuid = (await ok(['show', '2', '--json'], db)).stdout;
    expect(JSON.parse((await ok(['--db', url, 'show', '2', '--json'], db)).stdout).uuid).toBe(JSON.parse(uuid).uuid);
    expect(await runCli(['--db', url, 'verify'], { db })).toEqual({ code: 0, stdout: '', stderr: 'ok: the store is consistent\n' });
    expect(first.stderr).not.toContain('pushing');
    // on a terminal, a progress bar counts the rows
    const onTerminal = spawnSync('script', ['-qec', `node ${CLI} push --to '${pg.database('tty')}'`, '/dev/null'], { env: { ...process.env, CKPTDB_DB: db }, encoding: 'utf8' });
    expect(onTerminal.status, onTerminal.stderr).toBe(0);
    expect(onTerminal.stdout).toMatch(/pushing checkpoint 1 \[[=-]+\] \d+\/\d+ rows/);
  });

  it('a push killed mid-COPY leaves nothing of the checkpoint; the next push completes it', async () => {
    const pg = testPostgres();
    const url = pg.database('kill');
    const name = databaseOf(url);
    const db = storeOf('web-1', 150_000);
    const child = spawn(process.execPath, [CLI, 'push', '--to', url], { env: { ...process.env, CKPTDB_DB: db }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      // killed once the server has taken rows of the COPY of a big table
      const deadline = Date.now() + 30_000;
      while (count(name, "SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy WHERE relid = to_regclass('fds')") < 1000) {
        if (Date.now() > deadline) throw new Error('the push never reached the COPY of fds');
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGKILL');
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    // the server ends the dead session's transaction; until then its rows are invisible anyway
    expect(count(name, 'SELECT count(*) FROM checkpoints')).toBe(0);
    expect(count(name, 'SELECT count(*) FROM fds')).toBe(0);
    const second = await ok(['push', '--to', url], db);
    // a new id: the dead transaction took one from the sequence, which never gives ids back
    expect(second.stdout).toMatch(/^\d+\n$/);
    expect(count(name, 'SELECT count(*) FROM fds')).toBe(150_000);
    expect(count(name, 'SELECT count(*) FROM checkpoints')).toBe(1);
  });

  it('two hosts push into one new database at once, and both land', async () => {
    const url = testPostgres().database('hosts');
    const [a, b] = [storeOf('web-1', 20_000), storeOf('web-2', 20_000)];
    const [ra, rb] = await Promise.all([runCli(['push', '--to', url], { db: a }), runCli(['push', '--to', url], { db: b })]);
    expect([ra.code, rb.code, ra.stderr, rb.stderr]).toEqual([0, 0, expect.stringMatching(/^pushed checkpoint 1 /), expect.stringMatching(/^pushed checkpoint 1 /)]);
    expect([ra.stdout, rb.stdout].sort()).toEqual(['1\n', '2\n']);
    const hosts = JSON.parse((await ok(['--db', url, 'q', 'newest_per_host', '--json'], a)).stdout) as { host: string; fds: number }[];
    expect(hosts.map((h) => [h.host, h.fds])).toEqual([['web-1', 20_000], ['web-2', 20_000]]);
    const onlyB = JSON.parse((await ok(['--db', url, 'list', '--host', 'web-2', '--json'], a)).stdout) as { host: string }[];
    expect(onlyB.map((c) => c.host)).toEqual(['web-2']);
    // a checkpoint of each host, diffed in PostgreSQL: same shape, different host
    const diff = await runCli(['--db', url, 'diff', '1', '2', '--only', 'tasks,fds'], { db: a });
    expect(diff.code, diff.stderr).toBe(0);
    expect((await runCli(['--db', url, 'ps', '--host', 'web-3'], { db: a })).stderr).toMatch(/^ckptdb: no checkpoints of host web-3 in postgresql:/);
  });

  it('pull, then export --format criu, gives the images back; export from PostgreSQL too', async () => {
    const url = testPostgres().database('pull');
    const db = tempStorePath();
    const id = (await ok(['import', criuDir()], db)).stdout.trim();
    await ok(['push', id, '--to', url, '--with-pages'], db);
    const fromSqlite = join(tempDir(), 'sqlite');
    const fromPulled = join(tempDir(), 'pulled');
    const fromPostgres = join(tempDir(), 'postgres');
    await ok(['export', id, '--format', 'criu', '--out', fromSqlite], db);
    const other = tempStorePath();
    const pulled = await ok(['pull', '1', '--from', url], other);
    expect(pulled).toEqual({ code: 0, stdout: '1\n', stderr: expect.stringMatching(/^pulled checkpoint 1 from postgresql:.* as 1 \(\d+ rows\)\n$/) });
    expect((await runCli(['pull', '1', '--from', url], { db: other })).stderr).toMatch(/^checkpoint 1 of .* is here already, as 1: nothing pulled\n$/);
    await ok(['export', '1', '--format', 'criu', '--out', fromPulled], other);
    await ok(['--db', url, 'export', '1', '--format', 'criu', '--out', fromPostgres], db);
    const names = readdirSync(criuDir()).sort();
    for (const dir of [fromSqlite, fromPulled, fromPostgres]) expect(readdirSync(dir).sort()).toEqual(names);
    for (const name of names) {
      const bytes = readFileSync(join(fromSqlite, name));
      expect(readFileSync(join(fromPulled, name)).equals(bytes), name).toBe(true);
      expect(readFileSync(join(fromPostgres, name)).equals(bytes), name).toBe(true);
      // files ckptdb keeps as they are (pages, logs) are the dump's own bytes
      if (!name.endsWith('.img') || name.startsWith('pages-')) expect(bytes.equals(readFileSync(join(criuDir(), name))), name).toBe(true);
    }
    expect(await runCli(['--db', url, 'verify', '1'], { db })).toEqual({ code: 0, stdout: '', stderr: 'ok: checkpoint 1 is consistent\n' });
  });

  it('keeps CRIU memory pages on the host unless asked; such a checkpoint cannot be pulled', async () => {
    const url = testPostgres().database('pages');
    const db = tempStorePath();
    const id = (await ok(['import', criuDir()], db)).stdout.trim();
    const r = await ok(['push', '--to', url], db);
    expect(r.stderr).toMatch(/\(\d+ rows, \d+ chunks \(\d+ bytes\) of CRIU files\); 2 pages files kept here \(--with-pages pushes them\)\n$/);
    const name = databaseOf(url);
    const pages = readdirSync(criuDir()).filter((n) => n.startsWith('pages-')).map((n) => readFileSync(join(criuDir(), n)));
    const held = testPostgres().psql(name, 'SELECT encode(data, \'hex\') FROM criu_chunks').split('\n').filter(Boolean);
    for (const page of pages) for (let at = 0; at < page.length; at += 4096) expect(held).not.toContain(page.subarray(at, at + 4096).toString('hex'));
    // queries, show and diff still work without them
    expect((await runCli(['--db', url, 'show', '1'], { db })).code).toBe(0);
    expect((await runCli(['--db', url, 'diff', '1', id, '--db-b', db, '--only', 'tasks,fds'], { db })).code).toBe(0);
    const pull = await runCli(['pull', '1', '--from', url], { db: tempStorePath() });
    expect(pull).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: checkpoint 1 in postgresql:.* lacks \d+ chunks of its CRIU files: its memory pages stayed on its host \(push it again from there with --with-pages\)\n$/) });
  });

  it('diff of the same checkpoint on SQLite and on PostgreSQL: identical, exit 0', async () => {
    const url = testPostgres().database('diff');
    const db = storeOf('web-1', 5000);
    await ok(['capture', String(process.pid), '--label', 'self'], db);
    await ok(['push', '--to', url], db);
    for (const id of ['1', '2']) {
      const r = await runCli(['diff', id, id, '--db-b', url], { db });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\nidentical\n$/);
      expect(r.stdout).toContain(`in ${url.replace(/\?.*/, '')}`);
    }
    expect((await runCli(['--db', url, 'diff', '1', '2'], { db })).code).toBe(1);
  });
});
