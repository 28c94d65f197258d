/**
 * --freeze: every process of the capture is held still while it is read, without a
 * trace (the states stored are those before the freeze; neither a job-control shell
 * nor a parent waiting with WUNTRACED sees a stop), and afterwards exactly those held
 * here run again, whether the capture succeeded, failed, or was interrupted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { FIXTURES, killGroup, startFixture, startProcTree, taskState, waitFor, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';


const isRoot = process.getuid?.() === 0;

function allTids(info: ProcTree): number[] {
  return [info.parent, info.c1, info.c2, info.c3, info.g, info.v, ...info.threads, info.t];
}

/** Every task of the processes is running again (not stopped, not traced). */
function expectRunning(pids: number[]): void {
  for (const pid of pids) expect([pid, ['T', 't'].includes(taskState(pid) ?? '')]).toEqual([pid, false]);
}

const held = (pid: number) => ['T', 't'].includes(taskState(pid) ?? '');

describe('capture --freeze', () => {
  it('holds every task with ptrace, stores the states from before, and resumes exactly the processes it held', async () => {
    const db = tempStorePath();
    const info = await startProcTree(tempDir());
    // c1 was stopped before the capture: it must stay stopped after it
    process.kill(info.c1, 'SIGSTOP');
    await waitFor(() => taskState(info.c1) === 'T', 5000, 'c1 to stop');
    const before = allTids(info).sort((a, b) => a - b).map((pid) => ({ pid, state: taskState(pid) }));

    const r = await runCli(['capture', String(info.parent), '--tree', '--freeze'], { db });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/froze 5 processes for \d+ ms with ptrace\n/);
    const id = Number(r.stdout);
    const store = openStore(db, { create: false });
    const states = store.db.prepare('SELECT pid, state FROM tasks WHERE checkpoint_id = ? ORDER BY pid').all(id);
    // kcmp answers for seized tasks as for any other: nothing was inferred
    const inferred = store.db.prepare('SELECT count(*) FROM shared_objects WHERE checkpoint_id = ? AND inferred = 1').pluck().get(id);
    const cp = store.getCheckpoint(id);
    store.close();
    expect(states).toEqual(before);
    expect(states.filter((s) => (s as { state: string }).state === 'T')).toEqual([{ pid: info.c1, state: 'T' }]);
    expect(inferred).toBe(0);
    expect(cp.frozen).toBe(1);
    expect(JSON.parse(cp.meta!).freeze).toMatchObject({ method: 'ptrace', stopped: 5, alreadyStopped: [info.c1] });
    expect((await runCli(['show', String(id)], { db })).stdout).toMatch(/^freeze\s+ptrace \(PTRACE_SEIZE, PTRACE_INTERRUPT\): held 5 processes for \d+ ms; already stopped before: \d+$/m);

    expectRunning(allTids(info).filter((pid) => pid !== info.c1));
    expect(taskState(info.c1)).toBe('T');
  });

  it.skipIf(!isRoot)('resumes them when the capture fails while they are stopped (the store runs out of space)', async () => {
    const dir = tempDir();
    // a 2 MiB file system: the store fits (an empty one is near 1 MiB, and its WAL
    // while it is made), 30000 mappings of a long path (30 MiB of rows, more than
    // SQLite's 16 MiB page cache holds back) do not, and they are written while the
    // tree is still frozen
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
    try {
      const db = `${dir}/store.sqlite`;
      // a store that exists: one the capture created would be removed on its failure
      openStore(db).close();
      const { info } = await startFixture<{ parent: number; children: number[] }>('big-tree.py', [tempDir(), '10', '1', '30000']);
      const r = await runCli(['capture', String(info.parent), '--tree', '--freeze'], { db });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ckptdb: .*(full|space)/i)]);
      expectRunning([info.parent, ...info.children]);
      const store = openStore(db, { create: false });
      expect(store.listCheckpoints()).toEqual([]);
      expect(store.verify()).toEqual([]);
      store.close();
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`resumes them when ckptdb gets ${signal} while they are stopped, and writes nothing`, async () => {
      const db = tempStorePath();
      // SIGTERM meets a store that exists, SIGINT one the capture creates (and removes)
      if (signal === 'SIGTERM') openStore(db).close();
      const { info } = await startFixture<{ parent: number; children: number[] }>('big-tree.py', [tempDir(), '8000', '7']);
      const pids = [info.parent, ...info.children];
      const cli = spawn(process.execPath, [CLI, 'capture', String(info.parent), '--tree', '--freeze'], {
        env: { ...process.env, CKPTDB_DB: db },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      cli.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
      try {
        await waitFor(() => pids.every(held), 10_000, 'the tree to be frozen');
        cli.kill(signal);
        expect(await exited).toBe(2);
      } finally {
        cli.kill('SIGKILL');
      }
      expect(stderr).toContain(`capture interrupted by ${signal}: nothing was written`);
      expectRunning(pids);
      if (signal === 'SIGINT') {
        expect(existsSync(db)).toBe(false);
        return;
      }
      const store = openStore(db, { create: false });
      expect(store.listCheckpoints()).toEqual([]);
      store.close();
    });
  }
});

/** test/fixtures/watched-tree.py's pids. */
interface Watched {
  parent: number;
  children: number[];
}

/** Every task of the tree with its state now. */
function tasksOf(w: Watched): { pid: number; state: string | null }[] {
  return [w.parent, ...w.children]
    .flatMap((pid) => readdirSync(`/proc/${pid}/task`).map(Number))
    .sort((a, b) => a - b)
    .map((pid) => ({ pid, state: taskState(pid) }));
}

function storedStates(db: string, id: number): unknown[] {
  const store = openStore(db, { create: false });
  try {
    return store.db.prepare('SELECT pid, state FROM tasks WHERE checkpoint_id = ? ORDER BY pid').all(id);
  } finally {
    store.close();
  }
}

/** The cgroup v2 mount point, when there is one with a freezer. */
function cgroup2(): string | null {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '));
  const mount = line?.split(' ')[4];
  return mount && isRoot && existsSync(`${mount}/cgroup.subtree_control`) ? mount : null;
}

describe('capture --freeze leaves no trace', () => {
  it('a job-control shell prints no "Stopped" and the parent\'s waitpid(WUNTRACED) sees nothing; with SIGSTOP both do', async () => {
    const dir = tempDir();
    const events = join(dir, 'events');
    writeFileSync(events, '');
    const infoPath = join(dir, 'info.json');
    // script gives bash a terminal, so it runs with job control; set -b reports a job's change at once
    const shell = spawn('script', ['-qfec', 'bash --norc --noprofile -i', '/dev/null'], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    shell.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    let watched: Watched | null = null;
    try {
      shell.stdin.write(`set -b; PS1='$ '\npython3 ${FIXTURES}watched-tree.py ${infoPath} ${events} &\n`);
      await waitFor(() => existsSync(infoPath), 10_000, 'the job to start');
      watched = JSON.parse(readFileSync(infoPath, 'utf8')) as Watched;
      const pids = [watched.parent, ...watched.children];
      const before = tasksOf(watched);

      const r = await runCli(['capture', String(watched.parent), '--tree', '--freeze'], { db: join(dir, 'store.sqlite') });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/froze 3 processes for \d+ ms with ptrace\n/);
      // the marker's output, not its echo: whatever the shell had to report came before it
      shell.stdin.write('echo MARK$((1+0))\n');
      await waitFor(() => /MARK1\r\n/.test(out), 10_000, 'the shell to answer');
      expect(out).not.toContain('Stopped');
      expect(readFileSync(events, 'utf8')).toBe('');
      expect(storedStates(join(dir, 'store.sqlite'), Number(r.stdout))).toEqual(before);
      expect(before.every((t) => t.state === 'S')).toBe(true);
      expectRunning(pids);

      // the same with SIGSTOP: the test would see a trace
      const s = await runCli(['capture', String(watched.parent), '--tree', '--freeze-with', 'sigstop'], { db: join(dir, 'store.sqlite') });
      expect(s.code, s.stderr).toBe(0);
      expect(s.stderr).toContain('warning: --freeze stopped 3 processes with SIGSTOP (--freeze-with sigstop)');
      await waitFor(() => out.includes('Stopped'), 10_000, 'the shell to print Stopped');
      await waitFor(() => readFileSync(events, 'utf8') !== '', 10_000, 'the parent to see its children stop or continue');
      expect(storedStates(join(dir, 'store.sqlite'), Number(s.stdout))).toEqual(before);
      expect((await runCli(['show', s.stdout.trim()], { db: join(dir, 'store.sqlite') })).stdout).toMatch(/^freeze\s+SIGSTOP: held 3 processes/m);
      await waitFor(() => pids.every((p) => !held(p)), 5000, 'the tree to run again');
    } finally {
      if (watched) process.kill(-watched.parent, 'SIGKILL');
      process.kill(-shell.pid!, 'SIGKILL');
    }
  });

  it.skipIf(!cgroup2())('freezes a tree alone in its cgroup with the cgroup freezer, states from before, and thaws it', async () => {
    const group = join(cgroup2()!, `ckptdb-test-${process.pid}-${Date.now()}`);
    mkdirSync(group);
    const dir = tempDir();
    const events = join(dir, 'events');
    writeFileSync(events, '');
    const { child, info } = await startFixture<Watched>('watched-tree.py', [join(dir, 'info.json'), events]);
    try {
      for (const pid of [info.parent, ...info.children]) writeFileSync(join(group, 'cgroup.procs'), String(pid));
      const before = tasksOf(info);
      const db = join(dir, 'store.sqlite');
      const r = await runCli(['capture', String(info.parent), '--tree', '--freeze'], { db });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/froze 3 processes for \d+ ms with the cgroup freezer\n/);
      expect(storedStates(db, Number(r.stdout))).toEqual(before);
      expect((await runCli(['show', r.stdout.trim()], { db })).stdout).toMatch(new RegExp(`^freeze\\s+cgroup freezer \\(${group}\\): held 3 processes`, 'm'));
      expect(readFileSync(join(group, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
      expect(readFileSync(events, 'utf8')).toBe('');
      expectRunning([info.parent, ...info.children]);
    } finally {
      writeFileSync(join(group, 'cgroup.freeze'), '0');
      await killGroup(child);
      await waitFor(() => readFileSync(join(group, 'cgroup.procs'), 'utf8') === '', 5000, 'the cgroup to empty');
      rmdirSync(group);
    }
  });

  it('refuses --freeze-with cgroup for processes without a cgroup of their own, and writes nothing', async () => {
    const db = tempStorePath();
    const { info } = await startFixture<Watched>('watched-tree.py', [join(tempDir(), 'info.json'), '/dev/null']);
    const inOwn = readFileSync(`/proc/${info.parent}/cgroup`, 'utf8').includes('0::/\n') ? 'in the root cgroup' : 'other processes';
    const r = await runCli(['capture', String(info.parent), '--freeze-with', 'cgroup'], { db });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ckptdb: cannot freeze with the cgroup freezer: /)]);
    expect(r.stderr).toContain(inOwn === 'in the root cgroup' ? 'the processes are in the root cgroup' : 'holds other processes too');
    expect(existsSync(db)).toBe(false);
    expectRunning([info.parent, ...info.children]);
  });
});
