/**
 * A tree whose processes, threads and fds come and go while it is captured: every
 * capture succeeds, whatever vanished is counted, and the store stays consistent.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { startFixture } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

describe('capture of a churning tree', () => {
  it('succeeds 20 times in a row, some frozen, and verify finds nothing wrong', async () => {
    const db = tempStorePath();
    const { info } = await startFixture<{ root: number }>('churn.py', [tempDir()]);
    const seen: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const args = ['capture', String(info.root), '--tree', ...(i % 4 === 0 ? ['--freeze'] : [])];
      const r = await runCli(args, { db });
      expect(r.code, `capture ${i}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(`${i}\n`);
      const verify = await runCli(['verify', String(i)], { db });
      expect(verify.code, `verify ${i}: ${verify.stdout}`).toBe(0);
      const store = openStore(db, { create: false });
      const pids = store.db.prepare('SELECT pid FROM tasks WHERE checkpoint_id = ? ORDER BY pid').pluck().all(i) as number[];
      const meta = JSON.parse(store.getCheckpoint(i).meta!);
      store.close();
      expect(pids).toContain(info.root);
      expect(meta.warnings).toBeDefined();
      seen.push(pids.join(' '));
    }
    // the tree did change between captures
    expect(new Set(seen).size).toBeGreaterThan(10);
  });
});
