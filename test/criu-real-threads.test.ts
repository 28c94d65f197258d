/**
 * A real CRIU 4.x dump of a pipe tree in bash: `criu-threads | cat >> piped.txt`, where
 * criu-threads (fixtures/criu-threads.c) is a multi-threaded C program with a child,
 * each thread with signals of its own blocked and pending. Imported, it holds what /proc
 * showed just before the dump; exported, it is the dump byte for byte; restored from the
 * export, its threads are back and a line still goes through the pipe.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { exportCriu, importCriu } from '../src/formats/criu/index.js';
import { CRIU, skipWithout } from './helpers/criuTools.js';
import { dump, killTree, procFds, procMaps, procTasks, restore, startTree, treePids, type ProcFd, type ProcMap, type ProcTask } from './helpers/criuReal.js';
import { expectReencodes, expectSameFiles } from './helpers/criuReencode.js';
import { expectFds, expectMaps, expectTasks } from './helpers/criuTruth.js';
import { FIXTURES, waitFor } from './helpers/processes.js';

interface Made {
  pid: number;
  program: { leader: number; threads: [number, number]; child: number };
}

describe.skipIf(skipWithout(CRIU))('a real CRIU dump of a pipe tree in bash with a multi-threaded C program', () => {
  let root = '';
  let store: Store;
  let made: Made;
  let pids: number[] = [];
  let tasks: ProcTask[] = [];
  let fds: ProcFd[] = [];
  const maps = new Map<number, ProcMap[]>();
  let criu = 0;
  let dumpMs = 0;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ckptdb-criu-real-'));
    const work = join(root, 'work');
    for (const d of ['work', 'dump']) mkdirSync(join(root, d));
    const program = join(root, 'criu-threads');
    execFileSync('gcc', ['-O1', '-pthread', '-o', program, join(FIXTURES, 'criu-threads.c')]);
    const tree = await startTree<Made>(['bash', join(FIXTURES, 'criu-pipes.sh'), work, program], work);
    made = tree.info;
    pids = treePids(tree.pid);
    tasks = procTasks(pids);
    fds = procFds(pids);
    for (const pid of pids) maps.set(pid, procMaps(pid));
    store = openStore(join(root, 'store.sqlite'));
    dumpMs = await dump(made.pid, join(root, 'dump'));
    criu = (await importCriu(store, join(root, 'dump'), { env: true })).checkpointId;
  }, 120_000);

  afterAll(() => {
    store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('holds every process and thread as /proc showed it, each thread with its own name and signals', () => {
    expect(pids).toHaveLength(4);
    expect(tasks.filter((t) => t.tgid === made.program.leader).map((t) => t.pid)).toEqual([made.program.leader, ...made.program.threads]);
    expectTasks(store.db, criu, tasks, made.pid);
    const got = store.db.prepare('SELECT pid, comm, sig_blocked, sig_pending FROM tasks WHERE checkpoint_id = ? AND tgid = ? ORDER BY pid').all(criu, made.program.leader);
    expect(got).toEqual([
      { pid: made.program.leader, comm: 'criu-threads', sig_blocked: '0000000000000200', sig_pending: '0000000000000000' },
      // SIGUSR2 (12) blocked and pending for worker-a alone
      { pid: made.program.threads[0], comm: 'worker-a', sig_blocked: '0000000000000a00', sig_pending: '0000000000000800' },
      { pid: made.program.threads[1], comm: 'worker-b', sig_blocked: '0000000000004200', sig_pending: '0000000000000000' },
    ]);
    expect(store.db.prepare("SELECT comm, sig_blocked FROM tasks WHERE checkpoint_id = ? AND pid = ?").get(criu, made.program.child)).toEqual({ comm: 'child', sig_blocked: '0000000000000202' });
    expect(dumpMs).toBeGreaterThan(0);
  });

  it('holds every fd, the pipe between the program and cat among them, and every map', () => {
    expectFds(store.db, criu, fds);
    expectMaps(store.db, criu, maps);
    // the program's stdout and cat's stdin are the two ends of one pipe
    const cat = tasks.find((t) => t.comm === 'cat')!.pid;
    const end = (pid: number, fd: number) => store.db.prepare('SELECT object_id, flags FROM open_fds WHERE checkpoint_id = ? AND pid = ? AND fd = ?').get(criu, pid, fd) as { object_id: number; flags: number };
    expect(end(made.program.leader, 1).object_id).toBe(end(cat, 0).object_id);
    expect([end(made.program.leader, 1).flags, end(cat, 0).flags]).toEqual([1, 0]);
  });

  it('re-encodes every entry of every image to the bytes CRIU wrote, unknown fields kept in their place', () => {
    expectReencodes(join(root, 'dump'));
  });

  it('exports the dump byte for byte, and restores from the export with its threads, and the pipe working', async () => {
    const out = join(root, 'restore');
    await exportCriu(store, criu, out);
    expectSameFiles(out, join(root, 'dump'));

    await killTree(pids);
    await restore(out, pids);
    const again = procTasks(pids);
    expect(again.map((t) => [t.pid, t.comm, t.sig.blocked, t.sig.pending])).toEqual(tasks.map((t) => [t.pid, t.comm, t.sig.blocked, t.sig.pending]));
    process.kill(made.program.leader, 'SIGHUP');
    const piped = join(root, 'work', 'piped.txt');
    await waitFor(() => readFileSync(piped, 'utf8') === 'hello\ntick\n', 10_000, 'a tick through the pipe');
  });
});
