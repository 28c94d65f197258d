/**
 * --freeze: every process of the capture is stopped while it is read, and afterwards
 * exactly those that were stopped here run again, whether the capture succeeded,
 * failed, or was interrupted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { startFixture, startProcTree, taskState, waitFor, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';


const isRoot = process.getuid?.() === 0;

function allTids(info: ProcTree): number[] {
  return [info.parent, info.c1, info.c2, info.c3, info.g, info.v, ...info.threads, info.t];
}

/** Every task of the processes is running again (not in a stop state). */
function expectRunning(pids: number[]): void {
  for (const pid of pids) expect([pid, taskState(pid)]).not.toEqual([pid, 'T']);
}

describe('capture --freeze', () => {
  it('reads every task stopped and resumes exactly the processes it stopped', async () => {
    const db = tempStorePath();
    const info = await startProcTree(tempDir());
    // c1 was stopped before the capture: it must stay stopped after it
    process.kill(info.c1, 'SIGSTOP');
    await waitFor(() => taskState(info.c1) === 'T', 5000, 'c1 to stop');

    const r = await runCli(['capture', String(info.parent), '--tree', '--freeze'], { db });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/froze 5 processes for \d+ ms/);
    const id = Number(r.stdout);
    const store = openStore(db, { create: false });
    const states = store.db.prepare('SELECT pid, state FROM tasks WHERE checkpoint_id = ? ORDER BY pid').all(id);
    const cp = store.getCheckpoint(id);
    store.close();
    expect(states).toEqual(allTids(info).sort((a, b) => a - b).map((pid) => ({ pid, state: 'T' })));
    expect(cp.frozen).toBe(1);
    expect(JSON.parse(cp.meta!).freeze).toMatchObject({ stopped: 5, alreadyStopped: [info.c1] });

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
        await waitFor(() => pids.every((p) => taskState(p) === 'T'), 10_000, 'the tree to be frozen');
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
