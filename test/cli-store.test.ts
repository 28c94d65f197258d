import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

/** A store with two small checkpoints written through the library. */
function storeWithCheckpoints(): string {
  const path = tempStorePath();
  const store = openStore(path);
  for (const label of ['first', 'second, with "quotes"']) {
    const w = store.beginCheckpoint({ source: 'proc', label, rootPid: 42, kernel: '6.1.0', host: 'box' });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'fdtable:42' });
    const mm = w.addSharedObject({ kind: 'mm', key: 'mm:42' });
    w.addTask({ pid: 42, tgid: 42, comm: 'sh', mm, fdtable: ft });
    w.addTask({ pid: 43, tgid: 42, comm: 'sh', mm, fdtable: ft });
    const pipe = w.addSharedObject({ kind: 'pipe', key: 'pipe:[5]' });
    const file = w.addFile({ key: '42:0', type: 'pipe', path: 'pipe:[5]', object: pipe });
    w.addFd({ fdtable: ft, fd: 0, cloexec: false, file });
    w.addFd({ fdtable: ft, fd: 1, cloexec: false, file });
    w.done();
  }
  store.close();
  return path;
}

describe('ckptdb CLI over a store', () => {
  it('lists checkpoints as a table, JSON and CSV', async () => {
    const db = storeWithCheckpoints();
    const table = await runCli(['list'], { db });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+label\s+source\s+host\s+root_pid\s+frozen\s+started_at\s+finished_at\s+tasks\s+fds$/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^ *1\s+first\s+proc\s+box\s+42\s+0\s+\S+\s+\S+\s+2\s+2$/);

    const json = await runCli(['list', '--json'], { db });
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.id, r.label, r.tasks, r.fds, r.frozen])).toEqual([
      [1, 'first', 2, 2, 0],
      [2, 'second, with "quotes"', 2, 2, 0],
    ]);

    const csv = await runCli(['list', '--format', 'csv'], { db });
    expect(csv.stdout.split('\n')[2]).toMatch(/^2,"second, with ""quotes""",proc,box,42,0,/);
  });

  it('shows a checkpoint with its counts', async () => {
    const db = storeWithCheckpoints();
    const r = await runCli(['show', '2', '--json'], { db });
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(d).toMatchObject({
      id: 2, label: 'second, with "quotes"', source: 'proc', host: 'box', kernel: '6.1.0', root_pid: 42, frozen: false,
      counts: { tasks: 2, processes: 1, fds: 2, files: 1, shared_objects: 4, maps: 0, sockets: 0 },
    });
    const text = await runCli(['show', '1'], { db });
    expect(text.stdout).toMatch(/^source\s+proc$/m);
    expect(text.stdout).toMatch(/^objects: file\s+1 \(1 shared, 2 refs\)$/m);
  });

  it('removes a checkpoint and verifies the rest', async () => {
    const db = storeWithCheckpoints();
    const rm = await runCli(['rm', '1'], { db });
    expect(rm).toMatchObject({ code: 0, stdout: '', stderr: 'deleted checkpoint 1\n' });
    const list = JSON.parse((await runCli(['list', '--json'], { db })).stdout) as { id: number }[];
    expect(list.map((c) => c.id)).toEqual([2]);
    const ok = await runCli(['verify'], { db });
    expect(ok).toMatchObject({ code: 0, stdout: '', stderr: 'ok: the store is consistent\n' });
  });

  it('verify exits 1 and prints what it found', async () => {
    const db = storeWithCheckpoints();
    const store = openStore(db);
    store.db.prepare("UPDATE shared_objects SET refcount = 5 WHERE kind = 'pipe' AND checkpoint_id = 2").run();
    store.close();
    const r = await runCli(['verify', '--format', 'json'], { db });
    expect(r.code).toBe(1);
    const findings = JSON.parse(r.stdout) as { check: string; checkpointId: number; message: string }[];
    expect(findings).toEqual([
      { check: 'refcount', checkpointId: 2, message: expect.stringMatching(/^pipe object \d+ \(pipe:\[5\]\) has refcount 5 but 1 references$/) },
    ]);
    expect((await runCli(['verify', '1'], { db })).code).toBe(0);
  });

  it('answers bad ids, a missing store and a corrupt store with one line and exit 2', async () => {
    const db = storeWithCheckpoints();
    const cases: [string[], string | undefined, RegExp][] = [
      [['show', '9'], db, /^ckptdb: no checkpoint 9 in .*store\.sqlite \(`ckptdb list` shows the checkpoints there are\)\n$/],
      [['show', 'abc'], db, /^ckptdb: checkpoint id 'abc' is not a positive integer\n$/],
      [['rm', '2', '9'], db, /^ckptdb: no checkpoint 9 in /],
      [['verify', '0'], db, /^ckptdb: checkpoint id '0' is not a positive integer\n$/],
      [['list'], join(tempDir(), 'none.sqlite'), /^ckptdb: no store at .*none\.sqlite \(capture a checkpoint first, or name another store with --db\)\n$/],
    ];
    for (const [args, path, message] of cases) {
      const r = await runCli(args, { db: path });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
    // rm refused the whole command: checkpoint 2 is still there
    expect(JSON.parse((await runCli(['list', '--json'], { db })).stdout)).toHaveLength(2);

    const corrupt = join(tempDir(), 'corrupt.sqlite');
    const bytes = readFileSync(db);
    bytes.fill(0x5a, 4096, bytes.length);
    writeFileSync(corrupt, bytes);
    const r = await runCli(['list'], { db: corrupt });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/^ckptdb: (store .* is corrupt|.* is not a SQLite database|cannot)/);

    const text = join(tempDir(), 'notes.txt');
    writeFileSync(text, 'x'.repeat(200));
    expect(await runCli(['list'], { db: text })).toMatchObject({ code: 2, stderr: `ckptdb: ${text} is not a SQLite database (name a ckptdb store with --db, or a new file to create one)\n` });
  });

  it('takes the store from --db, then CKPTDB_DB, then XDG_DATA_HOME', async () => {
    const db = storeWithCheckpoints();
    const xdg = tempDir();
    const viaFlag = await runCli(['--db', db, 'list', '--json'], { env: { CKPTDB_DB: '/nonexistent/x.sqlite' } });
    expect(JSON.parse(viaFlag.stdout)).toHaveLength(2);
    const viaXdg = await runCli(['list'], { env: { CKPTDB_DB: '', XDG_DATA_HOME: xdg } });
    expect(viaXdg.stderr).toBe(`ckptdb: no store at ${xdg}/ckptdb/store.sqlite (capture a checkpoint first, or name another store with --db)\n`);
  });

  it('prints its version and help, and rejects unknown commands with exit 2', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await runCli(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Examples:$/m);
    expect(help.stdout).toMatch(/CKPTDB_DB/);
    const bad = await runCli(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('stops quietly when its reader goes away, help included', () => {
    // `head -c 1` closes the pipe after one byte: the rest of the help meets EPIPE
    for (let i = 0; i < 10; i++) {
      const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" capture --help | head -c 1 >/dev/null`], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('never prints a stack trace unless CKPTDB_DEBUG=1', async () => {
    const missing = join(tempDir(), 'none.sqlite');
    const plain = await runCli(['list'], { db: missing });
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await runCli(['list'], { db: missing, env: { CKPTDB_DEBUG: '1' } });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
