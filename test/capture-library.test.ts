/**
 * captureProcesses as a library call. Run from the TypeScript sources, as here, it
 * reads fds in its own thread (there is no compiled worker beside the sources); the
 * CLI reads them in a worker thread. Both must store the same checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { captureProcesses, CkptdbError, openStore, type CaptureProgress, type Store } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { startProcTree, unusedPid } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';


/** Every fd of the checkpoint with what identifies its file and objects, in a stable order. */
function shape(store: Store, id: number): unknown[] {
  return store.db
    .prepare(
      `SELECT t.pid, d.fd, d.cloexec, o.key, o.refcount, o.inferred, f.type, f.path, f.pos, f.flags, f.deleted, b.kind AS object_kind, b.key AS object_key,
              tab.key AS fdtable, mm.key AS mm
       FROM tasks t JOIN fds d ON d.fdtable_id = t.fdtable_id JOIN files f ON f.id = d.file_id
       JOIN shared_objects o ON o.id = f.id LEFT JOIN shared_objects b ON b.id = f.object_id
       JOIN shared_objects tab ON tab.id = t.fdtable_id JOIN shared_objects mm ON mm.id = t.mm_id
       WHERE t.checkpoint_id = ? ORDER BY t.pid, d.fd`,
    )
    .all(id);
}


describe('captureProcesses', () => {
  it('stores the same checkpoint as the CLI, and reports counts and progress', async () => {
    const db = tempStorePath();
    const info = await startProcTree(tempDir());
    const store = openStore(db);
    const progress: CaptureProgress[] = [];
    const result = await captureProcesses(store, { pids: [info.parent], tree: true, label: 'library', onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({ checkpointId: 1, frozen: false, kcmpUnavailable: null, counts: { processes: 6, tasks: 10 } });
    expect(result.counts.fds).toBeGreaterThan(60);
    expect(result.kcmpCalls).toBeGreaterThan(0);
    expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(['tasks', 'tables', 'details', 'fds']));
    for (const p of progress) expect(p.done).toBeLessThanOrEqual(p.total);
    store.close();

    const cli = await runCli(['capture', String(info.parent), '--tree'], { db });
    expect(cli.code, cli.stderr).toBe(0);
    const again = openStore(db, { create: false });
    expect(shape(again, 2)).toEqual(shape(again, 1));
    expect(again.getCheckpoint(1).label).toBe('library');
    expect(again.verify()).toEqual([]);
    again.close();
  });

  it('takes the children of the calling process unless told to leave its own tree out, and never itself', async () => {
    const store = openStore(tempStorePath());
    const info = await startProcTree(tempDir());
    const mine = [info.parent, info.c1, info.c2, info.g];
    const pidsOf = async (excludeOwnTree: boolean) => {
      const r = await captureProcesses(store, { pids: [process.ppid], tree: true, excludeOwnTree, skip: ['maps', 'fds'] });
      return store.db.prepare('SELECT pid FROM tasks WHERE checkpoint_id = ? AND pid = tgid').pluck().all(r.checkpointId) as number[];
    };
    const taken = await pidsOf(false);
    expect(taken).toEqual(expect.arrayContaining([process.ppid, ...mine]));
    expect(taken).not.toContain(process.pid);
    const left = await pidsOf(true);
    expect(left).toContain(process.ppid);
    for (const pid of [process.pid, ...mine]) expect(left).not.toContain(pid);
    store.close();
  });

  it('throws NO_SUCH_PROCESS for a missing PID before a checkpoint is begun', async () => {
    const store = openStore(tempStorePath());
    const pid = unusedPid();
    const err = await captureProcesses(store, { pids: [pid] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CkptdbError);
    expect(err).toMatchObject({ code: 'NO_SUCH_PROCESS', message: `no process ${pid}` });
    expect(store.listCheckpoints()).toEqual([]);
    store.close();
  });

  it('writes nothing when aborted, and the store takes the next capture', async () => {
    const store = openStore(tempStorePath());
    const controller = new AbortController();
    const reason = new CkptdbError('INTERRUPTED', 'stop');
    const running = captureProcesses(store, { pids: [process.ppid], signal: controller.signal, onProgress: () => controller.abort(reason) });
    await expect(running).rejects.toBe(reason);
    expect(store.listCheckpoints()).toEqual([]);
    const next = await captureProcesses(store, { pids: [process.ppid] });
    expect(next.checkpointId).toBeGreaterThan(0);
    expect(store.listCheckpoints()).toHaveLength(1);
    store.close();
  });
});
