import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { openStore, CkptdbError, type CheckpointWriter, type Store } from '../src/index.js';
import { tempStorePath } from './helpers/tmp.js';

const TABLES = ['checkpoints', 'shared_objects', 'files', 'tasks', 'fds', 'maps', 'sockets', 'task_namespaces', 'task_rlimits'];

function rowCounts(store: Store): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of TABLES) counts[t] = store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  return counts;
}

function caught(fn: () => unknown): CkptdbError {
  try {
    fn();
  } catch (e) {
    return e as CkptdbError;
  }
  throw new Error('expected an error');
}

/** Two processes after a fork: parent 10 with a second thread 11, child 20. */
function writeForkedPair(w: CheckpointWriter) {
  const mm10 = w.addSharedObject({ kind: 'mm', key: 'mm:10' });
  const mm20 = w.addSharedObject({ kind: 'mm', key: 'mm:20' });
  const ft10 = w.addSharedObject({ kind: 'fdtable', key: 'fdtable:10' });
  const ft20 = w.addSharedObject({ kind: 'fdtable', key: 'fdtable:20' });
  const net = w.addSharedObject({ kind: 'ns', key: 'net:[4026531840]' });
  const pipe = w.addSharedObject({ kind: 'pipe', key: 'pipe:[777]' });
  const inode = w.addSharedObject({ kind: 'inode', key: '8:1:1234' });
  const sock = w.addSharedObject({ kind: 'socket', key: 'socket:[900]' });
  const readEnd = w.addFile({ key: '10:3', type: 'pipe', path: 'pipe:[777]', flags: 0, object: pipe });
  const writeEnd = w.addFile({ key: '10:4', type: 'pipe', path: 'pipe:[777]', flags: 1, object: pipe });
  const log = w.addFile({ key: '10:5', type: 'reg', path: '/var/log/x', pos: 2n ** 60n, flags: 0o2001, mode: 0o100644, dev: '8:1', inode: 1234, object: inode });
  const logAgain = w.addFile({ key: '20:6', type: 'reg', path: '/var/log/x', pos: 0, flags: 0, mode: 0o100644, dev: '8:1', inode: 1234, object: inode });
  const socket = w.addFile({ key: '10:7', type: 'socket', path: 'socket:[900]', object: sock });
  w.addSocket({ object: sock, family: 'inet', type: 'stream', state: 'LISTEN', localAddr: '127.0.0.1', localPort: 8080 });
  const t10 = w.addTask({
    pid: 10, tgid: 10, ppid: 1, comm: 'parent', cmdline: ['parent', '--flag'], mm: mm10, fdtable: ft10,
    namespaces: { net }, rlimits: [{ resource: 'nofile', soft: 1024, hard: null }], startTime: 5000,
  });
  w.addTask({ pid: 11, tgid: 10, ppid: 1, comm: 'parent', mm: mm10, fdtable: ft10, namespaces: { net } });
  w.addTask({ pid: 20, tgid: 20, ppid: 10, comm: 'child', mm: mm20, fdtable: ft20, namespaces: { net } });
  for (const [ft, fd, file, cloexec] of [
    [ft10, 3, readEnd, false], [ft10, 4, writeEnd, true], [ft10, 5, log, false], [ft10, 7, socket, false],
    [ft20, 3, readEnd, false], [ft20, 4, writeEnd, false], [ft20, 5, log, false], [ft20, 6, logAgain, true],
  ] as const) {
    w.addFd({ fdtable: ft, fd, cloexec, file });
  }
  w.addMap({ mm: mm10, start: 0xffffffffff600000n, end: '0xffffffffff601000', perms: '--xp' });
  w.addMap({ mm: mm10, start: 0x400000, end: 0x401000, perms: 'r-xp', pgoff: 0, dev: '08:01', inode: 1234, path: '/usr/bin/parent' });
  return { t10, readEnd, writeEnd, log, logAgain, pipe, inode, mm10, ft10, net };
}

describe('checkpoint writer', () => {
  it('stores objects and keeps every refcount equal to the references stored', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'proc', label: 'pair', rootPid: 10, kernel: '6.1' });
    const ids = writeForkedPair(w);
    const r = w.done();
    expect(r.counts).toEqual({ tasks: 3, fds: 8, files: 5, sharedObjects: 13, maps: 2, sockets: 1, fileDetails: 0 });

    const refcounts = Object.fromEntries(
      (store.db.prepare('SELECT key, refcount FROM shared_objects WHERE checkpoint_id = ?').all(r.checkpointId) as { key: string; refcount: number }[])
        .map((o) => [o.key, o.refcount]),
    );
    expect(refcounts).toEqual({
      'mm:10': 2, 'mm:20': 1, 'fdtable:10': 2, 'fdtable:20': 1, 'net:[4026531840]': 3,
      'pipe:[777]': 2, '8:1:1234': 2, 'socket:[900]': 1,
      '10:3': 2, '10:4': 2, '10:5': 2, '20:6': 1, '10:7': 1,
    });
    const log = store.db.prepare('SELECT pos, inode, path, object_id FROM files WHERE id = ?').safeIntegers().get(ids.log) as Record<string, unknown>;
    expect(log).toEqual({ pos: 2n ** 60n, inode: 1234n, path: '/var/log/x', object_id: BigInt(ids.inode) });
    const maps = store.db.prepare('SELECT start_addr, end_addr FROM maps ORDER BY start_addr').all();
    expect(maps).toEqual([
      { start_addr: '0000000000400000', end_addr: '0000000000401000' },
      { start_addr: 'ffffffffff600000', end_addr: 'ffffffffff601000' },
    ]);
    const task = store.db.prepare('SELECT cmdline, start_time FROM tasks WHERE id = ?').get(ids.t10);
    expect(task).toEqual({ cmdline: '["parent","--flag"]', start_time: 5000 });
    expect(store.db.prepare('SELECT resource, soft, hard FROM task_rlimits').all()).toEqual([{ resource: 'nofile', soft: 1024, hard: null }]);
    expect(store.verify(r.checkpointId)).toEqual([]);
    store.close();
  });

  it('returns the existing id for a key seen before, without counting the reference twice', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'proc' });
    const ids = writeForkedPair(w);
    expect(w.addSharedObject({ kind: 'pipe', key: 'pipe:[777]' })).toBe(ids.pipe);
    expect(w.addFile({ key: '10:5', type: 'reg', object: ids.inode })).toBe(ids.log);
    expect(w.addTask({ pid: 10, tgid: 10, mm: ids.mm10 })).toBe(ids.t10);
    const fd = w.addFd({ fdtable: ids.ft10, fd: 3, cloexec: false, file: ids.readEnd });
    expect(w.addFd({ fdtable: ids.ft10, fd: 3, cloexec: true, file: ids.log })).toBe(fd);
    const r = w.done();
    expect(r.counts.tasks).toBe(3);
    expect(r.counts.fds).toBe(8);
    expect(store.verify()).toEqual([]);
    const refs = store.db.prepare("SELECT refcount FROM shared_objects WHERE key IN ('10:3', '10:5', 'mm:10') ORDER BY key").pluck().all();
    expect(refs).toEqual([2, 2, 2]);
    store.close();
  });

  it('refuses a dangling reference at the call that makes it, and leaves nothing', () => {
    const store = openStore(tempStorePath());
    const first = store.beginCheckpoint({ source: 'proc' });
    const old = writeForkedPair(first);
    first.done();
    const before = rowCounts(store);

    const w = store.beginCheckpoint({ source: 'proc' });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'fdtable:1' });
    const err = caught(() => w.addFd({ fdtable: ft, fd: 0, cloexec: false, file: 999_999 }));
    expect(err.code).toBe('DANGLING_REFERENCE');
    expect(err.message).toBe(`fd 0: file refers to object 999999, which does not exist in checkpoint ${w.checkpointId}`);
    expect(w.isOpen).toBe(false);
    expect(rowCounts(store)).toEqual(before);

    const w2 = store.beginCheckpoint({ source: 'proc' });
    const err2 = caught(() => w2.addTask({ pid: 1, tgid: 1, mm: old.mm10 }));
    expect(err2.message).toMatch(/^task 1: mm refers to object \d+, which does not exist in checkpoint \d+$/);
    expect(rowCounts(store)).toEqual(before);

    const w3 = store.beginCheckpoint({ source: 'proc' });
    const pipe = w3.addSharedObject({ kind: 'pipe', key: 'pipe:[1]' });
    expect(caught(() => w3.addTask({ pid: 1, tgid: 1, fdtable: pipe })).code).toBe('WRONG_KIND');
    expect(() => w3.addTask({ pid: 2, tgid: 2 })).toThrowError(/no longer being written/);
    expect(rowCounts(store)).toEqual(before);
    expect(store.verify()).toEqual([]);
    store.close();
  });

  it('leaves nothing after abort() or a bad object', () => {
    const store = openStore(tempStorePath());
    const before = rowCounts(store);
    const w = store.beginCheckpoint({ source: 'proc' });
    writeForkedPair(w);
    w.abort();
    expect(rowCounts(store)).toEqual(before);

    const w2 = store.beginCheckpoint({ source: 'proc' });
    const ids = writeForkedPair(w2);
    expect(() => w2.addFd({ fdtable: ids.ft10, fd: -1, cloexec: false, file: ids.log })).toThrowError(/fd -1: not a file descriptor number/);
    expect(() => w2.done()).toThrowError(CkptdbError);
    expect(rowCounts(store)).toEqual(before);

    const w3 = store.beginCheckpoint({ source: 'proc' });
    expect(() => w3.addMap({ mm: w3.addSharedObject({ kind: 'mm', key: 'mm:1' }), start: 'zz', end: 1, perms: 'r--p' })).toThrowError(/map start: zz is not an address/);
    expect(rowCounts(store)).toEqual(before);
    store.close();
  });

  it('keeps refcounts exact across flushes with a small memory budget', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'proc' }, { memoryBudget: 1 });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'ft' });
    const pipes = Array.from({ length: 3000 }, (_, i) => w.addSharedObject({ kind: 'pipe', key: `pipe:[${i}]` }));
    for (let fd = 0; fd < 9000; fd++) {
      const file = w.addFile({ key: `f${fd % 4500}`, type: 'pipe', object: pipes[fd % 3000]! });
      w.addFd({ fdtable: ft, fd, cloexec: false, file });
    }
    const r = w.done();
    expect(r.peakBufferedBytes).toBeLessThanOrEqual(2 * 1024 * 80);
    expect(r.peakRss).toBeGreaterThan(0);
    expect(store.verify()).toEqual([]);
    const hist = store.db.prepare("SELECT refcount, count(*) AS n FROM shared_objects WHERE kind = 'file' GROUP BY refcount").all();
    expect(hist).toEqual([{ refcount: 2, n: 4500 }]);
    store.close();
  });

  it('records this machine as the host unless the source says otherwise, also that it does not know', () => {
    const store = openStore(tempStorePath());
    const ids = [undefined, null, 'box'].map((host) => {
      const w = store.beginCheckpoint({ source: 'import', ...(host === undefined ? {} : { host }) });
      return w.done().checkpointId;
    });
    expect(ids.map((id) => store.getCheckpoint(id).host)).toEqual([hostname(), null, 'box']);
    store.close();
  });

  it('deletes a checkpoint whole and leaves the others', () => {
    const store = openStore(tempStorePath());
    const a = store.beginCheckpoint({ source: 'proc' });
    writeForkedPair(a);
    const idA = a.done().checkpointId;
    const afterA = rowCounts(store);
    const b = store.beginCheckpoint({ source: 'import' });
    writeForkedPair(b);
    const idB = b.done().checkpointId;
    store.deleteCheckpoint(idB);
    expect(rowCounts(store)).toEqual(afterA);
    expect(store.listCheckpoints().map((c) => c.id)).toEqual([idA]);
    expect(() => store.deleteCheckpoint(idB)).toThrowError(`no checkpoint ${idB} in ${store.path}`);
    store.close();
  });

  it('verify reports a refcount that disagrees with the references', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'proc' });
    const ids = writeForkedPair(w);
    const id = w.done().checkpointId;
    store.db.prepare('UPDATE shared_objects SET refcount = 7 WHERE id = ?').run(ids.pipe);
    expect(store.verify(id)).toEqual([
      { check: 'refcount', checkpointId: id, message: `pipe object ${ids.pipe} (pipe:[777]) has refcount 7 but 2 references` },
    ]);
    store.close();
  });
});
