/** The capture command as a user runs it: arguments, errors, output, what it leaves out. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { unusedPid } from './helpers/processes.js';
import { tempStorePath } from './helpers/tmp.js';


function meta(db: string, id: number): Record<string, unknown> {
  const store = openStore(db, { create: false });
  try {
    return JSON.parse(store.getCheckpoint(id).meta!) as Record<string, unknown>;
  } finally {
    store.close();
  }
}

/** Runs a shell script as its own process; resolves with its stdout once it exits. */
function sh(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ckptdb capture', () => {
  it('refuses a PID that does not exist before writing anything, not even a store', async () => {
    const db = tempStorePath();
    const pid = unusedPid();
    const r = await runCli(['capture', String(process.pid), String(pid)], { db });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(`no process ${pid}`)]);
    expect(existsSync(db)).toBe(false);
  });

  it('refuses bad arguments with one line and status 2', async () => {
    const db = tempStorePath();
    for (const [args, message] of [
      [['capture'], 'no process to capture'],
      [['capture', '--all', String(process.pid)], '--all captures every process'],
      [['capture', 'abc'], "PID 'abc' is not a positive integer"],
      [['capture', String(process.pid), '--skip', 'maps,colours'], '--skip colours: not a part of a capture'],
    ] as const) {
      const r = await runCli([...args], { db });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    }
    expect(existsSync(db)).toBe(false);
  });

  it('prints the new checkpoint id alone on stdout and a summary on stderr', async () => {
    const db = tempStorePath();
    const first = await runCli(['capture', String(process.pid), '--label', 'me'], { db });
    const second = await runCli(['capture', String(process.pid)], { db });
    expect([first.code, second.code]).toEqual([0, 0]);
    expect([first.stdout, second.stdout]).toEqual(['1\n', '2\n']);
    expect(first.stderr).toMatch(/^checkpoint 1: 1 process, \d+ tasks?, \d+ fds?, \d+ files?, \d+ maps?, \d+ sockets? in [\d.]+ s$/m);
    const store = openStore(db, { create: false });
    expect(store.getCheckpoint(1)).toMatchObject({ label: 'me', source: 'proc', root_pid: process.pid, frozen: 0 });
    store.close();
  });

  it('--tree never takes ckptdb itself nor what it started, and ckptdb refuses to capture itself', async () => {
    const db = tempStorePath();
    // the shell is the root of the tree; ckptdb is its child, beside a sleep
    const r = await sh(`sleep 30 & s=$!; node ${CLI} capture $$ --tree; kill $s`, { CKPTDB_DB: db });
    expect(r.code, r.stderr).toBe(0);
    const id = Number(r.stdout);
    const self = meta(db, id).capturedBy as number;
    const store = openStore(db, { create: false });
    const tasks = store.db.prepare('SELECT pid, ppid, comm FROM tasks WHERE checkpoint_id = ?').all(id) as { pid: number; ppid: number; comm: string }[];
    store.close();
    expect(tasks.map((t) => t.pid)).not.toContain(self);
    const shell = tasks.find((t) => t.ppid === process.pid)!;
    expect(shell.comm).toBe('sh');
    expect(tasks.filter((t) => t.ppid === shell.pid).map((t) => t.comm)).toEqual(['sleep']);

    const itself = await sh(`exec node ${CLI} capture $$`, { CKPTDB_DB: db });
    expect(itself.code).toBe(2);
    expect(itself.stderr).toMatch(/is this ckptdb process itself/);
  });

  it('--all takes every process but its own', async () => {
    const db = tempStorePath();
    const r = await runCli(['capture', '--all', '--skip', 'maps'], { db });
    expect(r.code, r.stderr).toBe(0);
    const id = Number(r.stdout);
    const self = meta(db, id).capturedBy as number;
    const store = openStore(db, { create: false });
    const pids = new Set(store.db.prepare('SELECT pid FROM tasks WHERE checkpoint_id = ? AND pid = tgid').pluck().all(id) as number[]);
    expect(store.verify(id)).toEqual([]);
    store.close();
    expect(pids.has(self)).toBe(false);
    expect(pids.has(process.pid)).toBe(true);
    expect(pids.has(1)).toBe(true);
    expect(pids.size).toBeGreaterThan(3);
  });

  it('draws a progress bar for --all when stderr is a terminal, and none otherwise', async () => {
    const db = tempStorePath();
    const onTerminal = await sh(`script -qec "node ${CLI} capture --all --skip maps" /dev/null`, { CKPTDB_DB: db });
    expect(onTerminal.code, onTerminal.stderr).toBe(0);
    expect(onTerminal.stdout).toMatch(/capturing tasks \[[=-]+\] \d+\/\d+/);
    const piped = await runCli(['capture', '--all', '--skip', 'maps'], { db });
    expect(piped.stderr).not.toMatch(/capturing/);
  });

  it('--help teaches: every option, the parts, examples', async () => {
    const r = await runCli(['capture', '--help']);
    expect(r.code).toBe(0);
    for (const word of ['--tree', '--all', '--freeze', '--label', '--with-env', '--skip', 'Examples:', 'maps, sockets', 'inferred']) {
      expect(r.stdout).toContain(word);
    }
  });
});
