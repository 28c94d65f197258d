/**
 * ckptdb checkpoint and restore with real CRIU 4.2: a tree is dumped into the store,
 * ended, and restored from the store, and goes on working where it was.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.js';
import { FIXTURES } from './helpers/processes.js';
import { NO_CRIU, alive, checkpointed, ckptdb, isRoot, lines, restored, scratchDirs, startTree, until } from './helpers/criuRun.js';

/** The highest number in lines matching re, per first group. */
function highest(path: string, re: RegExp): Map<string, number> {
  const seen = new Map<string, number>();
  for (const l of lines(path)) {
    const m = re.exec(l);
    if (m) seen.set(m[1]!, Math.max(seen.get(m[1]!) ?? 0, Number(m[2])));
  }
  return seen;
}

/** Waits until no process of the checkpoint's tree is left, zombies included: their pids must be free for the restore. */
async function treeGone(db: string, id: number): Promise<void> {
  const pids = (JSON.parse((await ckptdb(db, ['query', 'SELECT pid FROM tasks WHERE checkpoint_id = :c', '-p', `c=${id}`, '--json'])).stdout) as { pid: number }[]).map((t) => t.pid);
  await until(() => pids.every((pid) => !existsSync(`/proc/${pid}`)), 10_000, 'the tree to end');
}

/** One line of request and one of answer over a new TCP connection. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write(line + '\n'));
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      got += d;
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.trim());
      }
    });
    s.on('error', reject);
  });
}

describe.skipIf(!!NO_CRIU || !isRoot)(`checkpoint and restore with CRIU ${NO_CRIU}`, () => {
  it('a bash pipe tree: dumped and ended with --kill, restored by id, and it ticks on from where it was', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const ticks = join(dir, 'ticks');
    const root = startTree('bash', ['-c', `i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.05; done | cat >> ${ticks}`], join(dir, 'log'));
    await until(() => lines(ticks).length >= 5, 10_000, 'ticks');
    const id = await checkpointed(db, [String(root), '--tree', '--kill', '--label', 'pipe']);
    await treeGone(db, id);
    const last = highest(ticks, /^(tick) (\d+)$/).get('tick')!;
    expect(JSON.parse((await ckptdb(db, ['ps', String(id), '--json'])).stdout).length).toBeGreaterThanOrEqual(3);
    expect(await restored(db, [String(id)])).toBe(root);
    await until(() => highest(ticks, /^(tick) (\d+)$/).get('tick')! >= last + 5, 10_000, 'new ticks');
    // the count goes on from the restored shell's state, not from 1
    expect(lines(ticks).filter((l) => l === 'tick 1')).toHaveLength(1);
    expect(scratchDirs(db)).toEqual([]);
  });

  it('--no-detach prints the root pid, then waits until the restored tree has ended', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const done = join(dir, 'done');
    const root = startTree('bash', ['-c', `echo started; sleep 1.5; echo done > ${done}`], join(dir, 'log'));
    await until(() => lines(join(dir, 'log')).length > 0, 10_000, 'the shell');
    const id = await checkpointed(db, [String(root), '--tree', '--kill']);
    await treeGone(db, id);
    expect(existsSync(done)).toBe(false);
    const r = await ckptdb(db, ['restore', String(id), '--no-detach']);
    expect(r).toMatchObject({ code: 0, stdout: `${root}\n` });
    expect(r.stderr).toBe(`restored checkpoint ${id}: root pid ${root} ran until it ended\n`);
    expect(readFileSync(done, 'utf8')).toBe('done\n');
    expect(existsSync(`/proc/${root}`)).toBe(false);
    expect(scratchDirs(db)).toEqual([]);
  });

  it('a threaded C program: its three threads come back and each writes on', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const bin = join(dir, 'threads');
    execFileSync('gcc', ['-O1', '-pthread', '-o', bin, join(FIXTURES, 'threads.c')]);
    const out = join(dir, 'out');
    const root = startTree(bin, [out], join(dir, 'log'));
    await until(() => highest(out, /^thread (\d) (\d+)$/).size === 3, 10_000, 'three threads');
    const id = await checkpointed(db, [String(root), '--kill']);
    await treeGone(db, id);
    const tasks = JSON.parse((await ckptdb(db, ['query', 'SELECT pid, tgid FROM tasks WHERE checkpoint_id = :c', '-p', `c=${id}`, '--json'])).stdout) as { pid: number; tgid: number }[];
    expect(tasks).toHaveLength(4);
    expect(new Set(tasks.map((t) => t.tgid))).toEqual(new Set([root]));
    const before = highest(out, /^thread (\d) (\d+)$/);
    expect(await restored(db, [String(id)])).toBe(root);
    await until(() => [...before].every(([t, n]) => (highest(out, /^thread (\d) (\d+)$/).get(t) ?? 0) >= n + 3), 10_000, 'every thread to write on');
    expect(readFileSync(`/proc/${root}/status`, 'utf8')).toMatch(/^Threads:\s+4$/m);
  });

  it('a python TCP server with an established loopback connection: the connection carries on and the server answers', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const log = join(dir, 'pongs');
    const root = startTree('python3', [join(FIXTURES, 'tcp-pair.py'), log], join(dir, 'log'));
    await until(() => lines(`${log}.ready`).length > 0 && lines(log).length >= 3, 10_000, 'the connection');
    const { port, client } = JSON.parse(readFileSync(`${log}.ready`, 'utf8')) as { port: number; client: number };
    const id = await checkpointed(db, [String(root), '--tree', '--tcp-established', '--kill']);
    await treeGone(db, id);
    const sockets = JSON.parse((await ckptdb(db, ['q', 'sockets', '-p', `checkpoint=${id}`, '--json'])).stdout) as { state: string; local_port: number; remote_port: number }[];
    expect(sockets.filter((s) => s.state === 'ESTABLISHED' && (s.local_port === port || s.remote_port === port))).toHaveLength(2);
    const last = highest(log, /^(pong) (\d+)$/).get('pong')!;
    expect(await restored(db, [String(id), '--tcp-established'])).toBe(root);
    expect(alive(client)).toBe(true);
    // the old connection: the client's pings go on numbered from where they were
    await until(() => highest(log, /^(pong) (\d+)$/).get('pong')! >= last + 3, 10_000, 'pongs over the restored connection');
    // a new one: the listening socket is back
    expect(await ask(port, 'ping 4242')).toBe('pong 4242');
  });
});
