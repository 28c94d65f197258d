import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CkptdbError, diffCheckpoints, diffText, openDiff, openStore, type DiffEntry, type Store } from '../src/index.js';
import { DiffWork, SQL } from '../src/query/diff/compute.js';
import { openDiffConnection } from '../src/query/diff/connection.js';
import { selectFields } from '../src/query/diff/fields.js';
import { statement } from '../src/store/sqlFile.js';
import { ISSUE_OUTLINE, makeIssueChanges, outline, storeDigest, twoStores } from './helpers/diff.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { Tree, checkpoint } from './helpers/tree.js';

async function caught(fn: () => Promise<unknown>): Promise<CkptdbError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CkptdbError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

/** A store with the starting tree, and the same tree after `change`, as checkpoints a and b. */
function storeWith(change: (tree: Tree) => void, prepare?: (tree: Tree) => void): { store: Store; a: number; b: number } {
  const store = openStore(tempStorePath());
  const tree = new Tree();
  prepare?.(tree);
  const a = checkpoint(store, tree, { label: 'before' });
  change(tree);
  const b = checkpoint(store, tree, { label: 'after', order: 'reverse' });
  return { store, a, b };
}

describe('diff of two checkpoints (library)', () => {
  it("reports exactly the issue's changes: open, advance, close, cloexec, fork, exit, thread, map", async () => {
    const { store, a, b } = storeWith(makeIssueChanges);
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual(ISSUE_OUTLINE);
    expect(doc.identical).toBe(false);
    expect(doc.summary).toEqual({
      tasks: { added: 2, removed: 1, changed: 0 },
      fds: { added: 9, removed: 5, changed: 2 },
      maps: { added: 5, removed: 4, changed: 0 },
      objects: { added: 1, removed: 1, changed: 7 },
      images: { added: 0, removed: 0, changed: 0 },
    });
    expect(doc.a).toMatchObject({ store: store.path, checkpoint: a, label: 'before', source: 'proc' });

    const opened = doc.fds!.added[0]!;
    expect(opened).toEqual({
      kind: 'fds', status: 'added', key: { pid: 4100, start_time: 5_000_000, fd: 8 },
      process: { pid: 4100, start_time: 5_000_000, comm: 'python3', status: 'changed' },
      values: {
        cloexec: false, type: 'reg', path: '/tmp/tree/new', dev: '8:1', inode: 700_000, pos: 0,
        flags: 0o100002, flags_text: 'O_RDWR|O_LARGEFILE', mode: 0o100644, mode_text: '-rw-r--r--', deleted: false, attrs: null,
        shared_with: ['4103:8'], details: null,
      },
    });
    const thread = doc.tasks!.added[0]!;
    expect(thread.key).toEqual({ pid: 4104, start_time: 5_000_400 });
    expect(thread.process).toMatchObject({ pid: 4100, status: 'changed' });
    expect(thread.values).toMatchObject({ tgid: 4100, comm: 'python3', mm: 4100, fdtable: 4100, fs: 4100, sighand: 4100 });
    expect(thread.values.rlimits).toEqual({ nofile: '1024/524288', stack: '8388608/unlimited' });
    expect(doc.tasks!.added[1]!.values).toMatchObject({ tgid: 4103, ppid: 4100, mm: 4103, cmdline: ['python3', 'tree.py'] });
    expect(doc.tasks!.removed[0]!.process).toMatchObject({ pid: 4102, status: 'removed' });
    expect(doc.maps!.removed.at(-1)!.values).toEqual({
      end: 'ffffffffff601000', perms: '--xp', pgoff: 0, dev: '00:00', inode: 0, path: '[vsyscall]', attrs: null,
    });
    store.close();
  });

  it('finds the same checkpoint and an identical re-capture identical, whatever the write order and local keys', async () => {
    const store = openStore(tempStorePath());
    const tree = new Tree();
    const a = checkpoint(store, tree, { label: 'first' });
    const again = checkpoint(store, tree, { label: 'second', order: 'reverse' });
    for (const [x, y] of [[a, a], [a, again], [again, a]] as const) {
      const doc = await diffCheckpoints(store, x, y);
      expect(doc.identical).toBe(true);
      expect(outline(doc)).toEqual([]);
      expect(doc.summary.fds).toEqual({ added: 0, removed: 0, changed: 0 });
    }
    store.close();
  });

  it('reports a pid reused by a new process as one process removed and another added', async () => {
    const { store, a, b } = storeWith((t) => t.reusePid(4101, 6_000_000, 'cat'));
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual([
      'tasks added 4101',
      'tasks removed 4101',
      ...[0, 1, 2, 3].map((fd) => `fds removed 4101:${fd}`),
      ...['000055d0c0a00000', '000055d0c1e00000', '00007ffd4a1c0000', 'ffffffffff600000'].map((m) => `maps removed 4101@${m}`),
    ]);
    expect(doc.tasks!.added[0]!).toMatchObject({ key: { pid: 4101, start_time: 6_000_000 }, values: { comm: 'cat' }, process: { status: 'added' } });
    expect(doc.tasks!.removed[0]!).toMatchObject({ key: { pid: 4101, start_time: 5_000_100 }, values: { comm: 'sleep' }, process: { status: 'removed' } });
    expect(doc.fds!.removed[0]!.key).toEqual({ pid: 4101, start_time: 5_000_100, fd: 0 });
    store.close();
  });

  it('reports an fd that no longer shares its open file, on both sides of the sharing', async () => {
    // 4101 reopens its pipe end through /proc/self/fd/3: a new open file of the same pipe
    const { store, a, b } = storeWith((t) => t.reopen(4101, 3));
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual([
      'fds changed 4100:3 shared_with ["4101:3"]→[]',
      'fds changed 4101:3 shared_with ["4100:3"]→[]',
      'objects changed pipe pipe:[9001] refcount 2→3',
    ]);
    store.close();
  });

  it('reports sharing that begins, and different holders, but not the holders that come or go themselves', async () => {
    const { store, a, b } = storeWith((t) => {
      t.fd(4100, 3).file = t.fd(4100, 5).file; // dup2(5, 3): 4100's fd 3 now shares the log with its fd 5
      t.exit(4101); // gone: its fds are removed, not changes of the fds that shared with them
    });
    expect(outline(await diffCheckpoints(store, a, b))).toEqual([
      'tasks removed 4101',
      ...[0, 1, 2, 3].map((fd) => `fds removed 4101:${fd}`),
      // shared_with shows every other holder; 4101:3 is gone, 4100:5 new: a change
      'fds changed 4100:3 type "pipe"→"reg" path "pipe:[9001]"→"/tmp/tree/log" dev "0:14"→"8:1" inode 9001→500001 pos 0→100 flags 0→33793 mode 4480→33188 shared_with ["4101:3"]→["4100:5"]',
      'fds changed 4100:5 shared_with []→["4100:3"]',
      ...['000055d0c0a00000', '000055d0c1e00000', '00007ffd4a1c0000', 'ffffffffff600000'].map((m) => `maps removed 4101@${m}`),
      ...['cgroup:[4026531835]', 'ipc:[4026531839]', 'mnt:[4026531841]', 'net:[4026531840]', 'pid:[4026531836]', 'user:[4026531837]', 'uts:[4026531838]']
        .map((ns) => `objects changed ns ${ns} refcount 3→2`),
      'objects changed pipe pipe:[9001] refcount 2→1',
    ]);
    store.close();
  });

  it("compares the fds of a thread's own fd table, keyed and shared by that thread", async () => {
    const { store, a, b } = storeWith(
      (t) => {
        t.thread(4104).fds.delete(3);
        t.advance(4100, 5, 4096); // one open file in both tables: it moved for both fds
        t.threadFd(4104, 6).cloexec = false;
      },
      (t) => {
        t.startThread(4100, 4104, 5_000_400);
        t.unshareFiles(4104);
      },
    );
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual([
      'fds removed 4100/4104:3',
      'fds changed 4100:5 pos 100→4196',
      'fds changed 4100/4104:5 pos 100→4196',
      'fds changed 4100/4104:6 cloexec true→false',
    ]);
    const thread = { pid: 4104, start_time: 5_000_400 };
    expect(doc.fds!.changed[2]).toEqual({
      kind: 'fds', status: 'changed', key: { pid: 4100, start_time: 5_000_000, thread, fd: 6 },
      process: { pid: 4100, start_time: 5_000_000, comm: 'python3', status: 'changed' },
      changes: { cloexec: { old: true, new: false } },
    });
    // the other holders of its open file, in the process's table and in another process
    expect(doc.fds!.removed[0]!.values.shared_with).toEqual(['4100:3', '4101:3']);
    expect(doc.fds!.changed[0]!.key).toEqual({ pid: 4100, start_time: 5_000_000, fd: 5 });
    store.close();
  });

  it('reports a thread that unshares its fd table: the thread moves, the copy is added, the old table keeps its fds', async () => {
    const { store, a, b } = storeWith((t) => t.unshareFiles(4104), (t) => t.startThread(4100, 4104, 5_000_400));
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual([
      'tasks changed 4104 fdtable 4100→4104',
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((fd) => `fds added 4100/4104:${fd}`),
    ]);
    expect(doc.fds!.added[5]!.values).toMatchObject({ path: '/tmp/tree/log', pos: 100, shared_with: ['4100:5'] });
    store.close();
  });

  it('matches a process whose main thread exited by its zombie leader, and compares the tables its thread holds', async () => {
    const store = openStore(tempStorePath());
    const tree = new Tree();
    tree.startThread(4100, 4104, 5_000_400);
    const a = checkpoint(store, tree, { label: 'live leader' });
    tree.leaderExits(4100);
    const b = checkpoint(store, tree, { label: 'zombie leader' });
    tree.advance(4100, 5, 10);
    tree.protect(4100, 0x55d0c1e00000n, 'r--p');
    const c = checkpoint(store, tree, { label: 'zombie leader, changed', order: 'reverse' });
    const again = checkpoint(store, tree, { label: 'zombie leader, again' });

    // the leader exits: the tasks say so; the fds and maps, now held by the thread alone, are the same
    expect(outline(await diffCheckpoints(store, a, b))).toEqual([
      'tasks changed 4100 state "S"→"Z" mm 4100→null fdtable 4100→null fs 4100→null',
      'tasks changed 4104 mm 4100→4104 fdtable 4100→4104 fs 4100→4104',
    ]);
    const changed = await diffCheckpoints(store, b, c);
    expect(outline(changed)).toEqual([
      'fds changed 4100:5 pos 100→110',
      'maps changed 4100@000055d0c1e00000 perms "rw-p"→"r--p"',
    ]);
    expect(changed.fds!.changed[0]!.process).toEqual({ pid: 4100, start_time: 5_000_000, comm: 'python3', status: 'changed' });
    expect((await diffCheckpoints(store, c, again)).identical).toBe(true);
    store.close();
  });

  it('compares every address space of a process, one its main thread does not hold named by its thread', async () => {
    // Linux threads share one address space; imported data may not, and the diff still sees each one.
    const store = openStore(tempStorePath());
    const write = (perms: string) => {
      const w = store.beginCheckpoint({ source: 'import' });
      const [mm, other] = [w.addSharedObject({ kind: 'mm', key: 'mm:1' }), w.addSharedObject({ kind: 'mm', key: 'mm:2' })];
      w.addTask({ pid: 4200, tgid: 4200, startTime: 900, comm: 'two-mm', mm });
      w.addTask({ pid: 4201, tgid: 4200, startTime: 901, comm: 'two-mm', mm: other });
      w.addMap({ mm, start: 0x400000n, end: 0x401000n, perms: 'r-xp' });
      w.addMap({ mm: other, start: 0x7f0000000000n, end: 0x7f0000001000n, perms });
      return w.done().checkpointId;
    };
    const [a, b] = [write('rw-p'), write('r--p')];
    const diff = await openDiff(store, a, b);
    expect(outline(diff.toDocument())).toEqual(['maps changed 4200/4201@00007f0000000000 perms "rw-p"→"r--p"']);
    expect([...diffText(diff)].join('').split('\n').slice(-3)).toEqual([
      'process 4200 two-mm, start_time 900', '  ~ map 00007f0000000000 (thread 4201): perms rw-p → r--p', '',
    ]);
    diff.close();
    store.close();
  });

  it('reports a thread that left its process fs info, a new namespace and limit, a map and a socket that changed', async () => {
    const { store, a, b } = storeWith(
      (t) => {
        t.unshareFs(4104);
        t.unshareNet(4101, 4026532999);
        t.setNofile(4101, 4096);
        t.protect(4100, 0x55d0c1e00000n, 'r--p');
        t.setSocketState(4100, 7, 'CLOSE_WAIT');
      },
      (t) => t.startThread(4100, 4104, 5_000_400),
    );
    const doc = await diffCheckpoints(store, a, b);
    expect(outline(doc)).toEqual([
      'tasks changed 4104 fs 4100→4104',
      'tasks changed 4101 ns.net "net:[4026531840]"→"net:[4026532999]" rlimits.nofile "1024/524288"→"4096/524288"',
      'maps changed 4100@000055d0c1e00000 perms "rw-p"→"r--p"',
      'objects added ns net:[4026532999]',
      'objects changed ns net:[4026531840] refcount 4→3',
      'objects changed socket socket:[9100] state "ESTABLISHED"→"CLOSE_WAIT"',
    ]);
    store.close();
  });

  it('leaves out ignored fields and kinds, and changes that are only in them', async () => {
    const { store, a, b } = storeWith(makeIssueChanges);
    const ignored = await diffCheckpoints(store, a, b, { ignore: 'pos,fds.cloexec', only: ['fds'] });
    expect(ignored.kinds).toEqual(['fds']);
    expect(ignored.ignored).toEqual(['pos', 'fds.cloexec']);
    expect(ignored.summary).toEqual({ fds: { added: 9, removed: 5, changed: 0 } });
    expect(ignored.tasks).toBeUndefined();
    expect(Object.keys(ignored.fds!.added[0]!.values)).toEqual([
      'type', 'path', 'dev', 'inode', 'flags', 'flags_text', 'mode', 'mode_text', 'deleted', 'attrs', 'shared_with', 'details',
    ]);

    const noRefcounts = await diffCheckpoints(store, a, b, { ignore: ['refcount'] });
    expect(outline(noRefcounts).filter((l) => l.startsWith('objects'))).toEqual(['objects added inode 8:1:700000', 'objects removed inode 8:1:500002']);

    const other = storeWith((t) => t.unshareNet(4101, 4026532999));
    expect(outline(await diffCheckpoints(other.store, other.a, other.b, { ignore: 'ns.net', only: 'tasks' }))).toEqual([]);
    expect(outline(await diffCheckpoints(other.store, other.a, other.b, { ignore: 'ns.pid', only: 'tasks' }))).toEqual([
      'tasks changed 4101 ns.net "net:[4026531840]"→"net:[4026532999]"',
    ]);
    store.close();
    other.store.close();
  });

  it('keeps 64-bit positions exact', async () => {
    const { store, a, b } = storeWith(
      (t) => t.advance(4100, 5, 1n),
      (t) => {
        t.fd(4100, 5).file.pos = 2n ** 62n;
      },
    );
    const doc = await diffCheckpoints(store, a, b);
    expect(doc.fds!.changed.map((e) => [e.key, e.changes])).toEqual([
      [{ pid: 4100, start_time: 5_000_000, fd: 5 }, { pos: { old: 2n ** 62n, new: 2n ** 62n + 1n } }],
    ]);
    expect(outline(doc)).toEqual(['fds changed 4100:5 pos 4611686018427387904→4611686018427387905']);
    store.close();
  });

  it('diffs against a checkpoint in another store file, read-only, with the same result', async () => {
    const { a: pathA, b: pathB } = twoStores();
    const storeA = openStore(pathA);
    const before = storeDigest(pathB);
    const doc = await diffCheckpoints(storeA, 1, 1, { storeB: pathB });
    expect(doc.b).toMatchObject({ store: pathB, checkpoint: 1, label: 'after' });
    expect(outline(doc)).toEqual(ISSUE_OUTLINE);
    expect(storeDigest(pathB)).toBe(before);
    storeA.close();
  });

  it('computes the same diff when a worker thread takes part of the work', async () => {
    // The worker runs compiled code: the built library is what can use it.
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const built = (await import(dist)) as typeof import('../src/index.js');
    const { store, a, b } = storeWith(makeIssueChanges);
    const parallel = await built.openDiff(store.path, a, b, { threads: 2 });
    expect(parallel.threads).toBe(2);
    const two = parallel.toDocument();
    parallel.close();
    expect(outline(two)).toEqual(ISSUE_OUTLINE);
    expect(two).toEqual(await built.diffCheckpoints(store.path, a, b, { threads: 1 }));
    const fromSources = await openDiff(store, a, b, { threads: 2 });
    expect(fromSources.threads).toBe(1);
    fromSources.close();
    store.close();

    // the worker finds the fds added to a thread's own table, named as the caller names that table
    const unshared = storeWith((t) => {
      makeIssueChanges(t);
      t.unshareFiles(4104);
    });
    const threaded = await built.diffCheckpoints(unshared.store.path, unshared.a, unshared.b, { threads: 2 });
    expect(outline(threaded).filter((l) => l.startsWith('fds added 4100/'))).toEqual(
      [0, 1, 2, 3, 4, 5, 7, 8].map((fd) => `fds added 4100/4104:${fd}`),
    );
    expect(threaded).toEqual(await built.diffCheckpoints(unshared.store.path, unshared.a, unshared.b, { threads: 1 }));
    unshared.store.close();
  });

  it('plans the passes over whole checkpoints as merges, never as a lookup per row into a scanned table', () => {
    const { store, a, b } = storeWith(makeIssueChanges);
    const db = openDiffConnection({ a: store.path, b: store.path });
    new DiffWork(db, { a, b }, selectFields(undefined, undefined)).prepare(true);
    for (const name of ['fds_removed_or_changed', 'fds_added', 'maps_removed_or_changed', 'maps_added', 'objects_removed_or_changed', 'objects_added']) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${statement(SQL, name)}`).all({ a, b }) as { detail: string }[]).map((r) => r.detail);
      expect(plan, name).toContain('MERGE (EXCEPT)');
      // Only the processes (inside the merge) and the few rows the merge leaves are scanned.
      expect(plan.filter((d) => d.startsWith('SCAN') && d !== 'SCAN p' && d !== 'SCAN c'), name).toEqual([]);
      expect(plan.filter((d) => d.includes('AUTOMATIC') || d.includes('TEMP B-TREE')), name).toEqual([]);
    }
    db.close();
    store.close();
  });

  it('streams the changes process by process, then the kernel objects', async () => {
    const { store, a, b } = storeWith(makeIssueChanges);
    const diff = await openDiff(store, a, b);
    const seen: string[] = [];
    for (const e of diff as Iterable<DiffEntry>) {
      const where = e.process ? `${e.process.pid}` : 'objects';
      if (seen.at(-1) !== where) seen.push(where);
    }
    expect(seen).toEqual(['4100', '4102', '4103', 'objects']);
    expect([...diff.processInfo().values()].map((p) => [p.pid, p.status])).toEqual([[4100, 'changed'], [4102, 'removed'], [4103, 'added']]);
    diff.close();
    diff.close();
    store.close();
  });

  it('refuses unknown checkpoints, stores and fields with a clear error, and writes nothing', async () => {
    const { store, a } = storeWith(() => {});
    const dir = tempDir();
    const notSqlite = join(dir, 'notes.txt');
    writeFileSync(notSqlite, 'x'.repeat(200));
    const missing = join(dir, 'missing.sqlite');
    const before = storeDigest(store.path);
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [() => diffCheckpoints(store, a, 99), 'NO_SUCH_CHECKPOINT', /^no checkpoint 99 in .*store\.sqlite$/],
      [() => diffCheckpoints(store, 77, a), 'NO_SUCH_CHECKPOINT', /^no checkpoint 77 in /],
      [() => diffCheckpoints(store, a, 1, { storeB: missing }), 'STORE_NOT_FOUND', /^no store at .*missing\.sqlite$/],
      [() => diffCheckpoints(store, a, 1, { storeB: notSqlite }), 'NOT_SQLITE', /notes\.txt is not a SQLite database$/],
      [() => diffCheckpoints(store, a, a, { ignore: 'posn' }), 'BAD_ARGUMENT', /^ignore: no field 'posn'$/],
      [() => diffCheckpoints(store, a, a, { ignore: 'maps.cloexec' }), 'BAD_ARGUMENT', /^ignore: no field 'maps.cloexec'$/],
      [() => diffCheckpoints(store, a, a, { only: 'fds,files' }), 'BAD_ARGUMENT', /^only: no kind 'files'$/],
      [() => diffCheckpoints(store, a, 0), 'BAD_ARGUMENT', /^checkpoint id 0 is not a positive integer$/],
    ];
    for (const [fn, code, message] of cases) {
      const err = await caught(fn);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    }
    expect(existsSync(missing)).toBe(false);
    expect(storeDigest(store.path)).toBe(before);
    store.close();
  });
});

