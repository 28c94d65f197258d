/**
 * What checkpoint and restore leave when they fail: the store as it was, no scratch
 * directory, one line saying what went wrong (and where CRIU's log is kept).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { CLI } from './helpers/cli.js';
import { FIXTURES } from './helpers/processes.js';
import { NO_CRIU, TEST_CRIU, alive, checkpointed, children, ckptdb, isRoot, lines, scratchDirs, startTree, until } from './helpers/criuRun.js';

const TABLES = ['checkpoints', 'tasks', 'fds', 'files', 'shared_objects', 'maps', 'criu_images', 'criu_image_chunks', 'criu_chunks', 'criu_packs', 'criu_page_runs'];

/** Everything that must not change: row counts, and what each checkpoint's files hold, chunk by chunk. */
function snapshot(db: string): string {
  const store = openStore(db);
  try {
    const counts = TABLES.map((t) => `${t} ${String(store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get())}`);
    const files = store.db
      .prepare(`SELECT i.checkpoint_id, i.name, i.size, group_concat(hex(c.hash), '') AS hashes
                FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id JOIN criu_chunks c ON c.id = ic.chunk_id
                GROUP BY i.id ORDER BY i.checkpoint_id, i.name`)
      .all()
      .map((r) => JSON.stringify(r));
    return [...counts, ...files].join('\n');
  } finally {
    store.close();
  }
}

async function holder(dir: string): Promise<number> {
  const out = join(dir, 'holder');
  const pid = startTree('python3', [join(FIXTURES, 'memory-holder.py'), out], out);
  await until(() => lines(out).length > 0, 10_000, 'the holder');
  return pid;
}

/** A process holding 80 MiB of random bytes: long enough to dump and store to be caught in the act. */
async function bigHolder(dir: string): Promise<number> {
  const out = join(dir, 'big');
  const pid = startTree('python3', ['-c', 'import os, time\na = bytearray(os.urandom(80 << 20))\nprint("ready", flush=True)\ntime.sleep(600)'], out);
  await until(() => lines(out).length > 0, 20_000, 'the holder');
  return pid;
}

function fakeCriu(dir: string, version: string): string {
  const path = join(dir, 'criu');
  writeFileSync(path, `#!/bin/sh\necho "Version: ${version}"\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('checkpoint refuses a CRIU it cannot use, before anything runs', () => {
  it('missing: named by --criu, by CKPTDB_CRIU, or none on PATH; no store is made', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    for (const [args, env, what] of [
      [['--criu', join(dir, 'nowhere')], {}, `criu ${join(dir, 'nowhere')} (from --criu) is not an executable file`],
      [[], { CKPTDB_CRIU: join(dir, 'nowhere') }, `criu ${join(dir, 'nowhere')} (from CKPTDB_CRIU) is not an executable file`],
      [[], { CKPTDB_CRIU: '', PATH: dir }, 'no criu on PATH and neither --criu nor CKPTDB_CRIU names one'],
    ] as const) {
      const r = await ckptdb(db, ['checkpoint', String(process.pid), ...args], env);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^ckptdb: ${what.replace(/[()]/g, '\\$&')}: install CRIU 4\\.0 or newer .* name it with --criu PATH or CKPTDB_CRIU\\n$`));
      expect(existsSync(db)).toBe(false);
    }
  });

  it('too old: a CRIU 3.x is named with its version; an existing store stays as it was', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    expect((await ckptdb(db, ['capture', String(process.pid)])).code).toBe(0);
    const before = snapshot(db);
    const r = await ckptdb(db, ['checkpoint', String(process.pid), '--criu', fakeCriu(dir, '3.17.1')]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^ckptdb: criu \S+ \(from --criu\) is version 3\.17\.1, older than 4\.0: install CRIU 4\.0 or newer/) });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(snapshot(db)).toBe(before);
  });

  it('restore refuses a checkpoint captured from /proc, which holds no memory', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const id = Number((await ckptdb(db, ['capture', String(process.pid)])).stdout.trim());
    const r = await ckptdb(db, ['restore', String(id)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^ckptdb: checkpoint ${id} was captured from /proc: it holds no memory or registers, so it cannot be restored`));
    expect(scratchDirs(db)).toEqual([]);
  });
});

describe.skipIf(!!NO_CRIU || !isRoot)(`failures of real CRIU runs ${NO_CRIU}`, () => {
  it('a dump that fails (a kernel thread) shows CRIU\'s first error, keeps its log, writes nothing and leaves no scratch directory', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const pid = await holder(dir);
    await checkpointed(db, [String(pid)]);
    const before = snapshot(db);
    const r = await ckptdb(db, ['checkpoint', '2', '--tree']);
    expect(r.code).toBe(2);
    const m = /^ckptdb: criu dump of process 2 failed: (.+) \(log: (\S+)\) \(nothing was written to the store\)\n$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(m![1]).not.toMatch(/RLIMIT_NOFILE/);
    expect(readFileSync(m![2]!, 'utf8')).toContain(m![1]);
    expect(snapshot(db)).toBe(before);
    expect(scratchDirs(db)).toEqual([]);
  });

  it('a restore while the pids are taken names them, writes nothing and leaves no scratch directory', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const pid = await holder(dir);
    const id = await checkpointed(db, [String(pid)]);
    const before = snapshot(db);
    const r = await ckptdb(db, ['restore', String(id)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^ckptdb: criu restore of checkpoint ${id} failed: pids still in use: ${pid} \\(python3\\) \\(log: \\S+\\)`));
    expect(alive(pid)).toBe(true);
    expect(snapshot(db)).toBe(before);
    expect(scratchDirs(db)).toEqual([]);
  });

  it('Ctrl-C (SIGINT) while criu dumps: criu finishes, nothing is written, the scratch directory goes, exit 2', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const pid = await bigHolder(dir);
    await checkpointed(db, [String(pid), '--label', 'earlier']);
    const before = snapshot(db);
    const child = spawn(process.execPath, [CLI, 'checkpoint', String(pid)], { env: { ...process.env, CKPTDB_DB: db, CKPTDB_CRIU: TEST_CRIU! }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    // criu is writing the pages
    await until(() => scratchDirs(db).some((d) => existsSync(join(d, 'images')) && readdirSync(join(d, 'images')).some((f) => f.startsWith('pages-'))), 20_000, 'the dump to start');
    child.kill('SIGINT');
    expect(await exited).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('ckptdb: checkpoint interrupted by SIGINT: nothing was written to the store\n');
    expect(scratchDirs(db)).toEqual([]);
    expect(snapshot(db)).toBe(before);
    expect(alive(pid)).toBe(true);
  });

  it('SIGKILL of ckptdb as criu starts, as it writes pages, and while the dump is stored: verify is clean, earlier checkpoints unchanged, the next run sweeps the scratch', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const pid = await bigHolder(dir);
    await checkpointed(db, [String(pid), '--label', 'earlier']);
    const before = snapshot(db);
    const images = (file: string): boolean => scratchDirs(db).some((d) => existsSync(join(d, 'images')) && readdirSync(join(d, 'images')).some((f) => f.startsWith(file)));
    // moments named by what the run has reached, not by time, so that a fast machine
    // cannot finish the checkpoint before the kill
    const moments: [string, (ckptdb: number) => boolean][] = [
      ['criu to start', (c) => children(c).length > 0 && images('')],
      ['criu to write pages', () => images('pages-')],
      ['the dump to be stored', (c) => images('stats-dump') && children(c).length === 0],
    ];
    for (const [what, reached] of moments) {
      const child = spawn(process.execPath, [CLI, 'checkpoint', String(pid)], { env: { ...process.env, CKPTDB_DB: db, CKPTDB_CRIU: TEST_CRIU! }, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
      await until(() => reached(child.pid!) || child.exitCode !== null, 30_000, what, 2);
      await new Promise((r) => setTimeout(r, Math.random() * 20));
      child.kill('SIGKILL');
      expect(await exited, `ckptdb ended before it was killed, waiting for ${what}`).toBe('SIGKILL');
      // a criu it started runs to its end on its own
      await until(() => scratchDirs(db).every((d) => !existsSync(join(d, 'owners')) || readFileSync(join(d, 'owners'), 'utf8').trim().split(' ').map(Number).every((p) => !alive(p))), 20_000, 'criu to end');
      expect(await ckptdb(db, ['verify'])).toEqual({ code: 0, stdout: '', stderr: 'ok: the store is consistent\n' });
      expect(snapshot(db)).toBe(before);
    }
    await checkpointed(db, [String(pid)]);
    expect(scratchDirs(db)).toEqual([]);
  }, 120_000);
});
