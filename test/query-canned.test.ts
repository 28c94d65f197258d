/**
 * Every canned query against real captures of a spawned process tree of known shape
 * (test/fixtures/proc-tree.py, its shape written out in helpers/procTreeShape.ts),
 * with its exact rows. The store holds two checkpoints of the same tree, with the
 * same pids: each query must keep to the checkpoint it is given, and default to the
 * newest. Row ids are looked up in the store by the keys the capture gives objects.
 */
import { statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NAMESPACE_TYPES } from '../src/capture/proc/namespaces.js';
import { cannedQueries, captureProcesses, openStore, QuerySession, type Params, type SocketInput } from '../src/index.js';
import { objectIds, useLiveTree, type ObjectIds } from './helpers/liveTree.js';
import { fdCount, fdRefs, fileKey, holdersText, taskHoldersText, type FdRef, type FileName, type TreeShape } from './helpers/procTreeShape.js';
import { startFixture, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

const live = useLiveTree();
let session: QuerySession;
let tree: ProcTree;
let shape: TreeShape;
beforeEach(() => {
  ({ tree, shape } = live());
  session = QuerySession.open(live().db);
});
afterEach(() => session.close());

function run(name: string, params: Params = {}): Record<string, unknown>[] {
  return [...session.canned(name, params).rows];
}

const idsIn = (checkpoint: number) => objectIds(session.db, checkpoint);

const byNumbers = <T>(...keys: ((x: T) => number)[]) => (a: T, b: T) => {
  for (const k of keys) if (k(a) !== k(b)) return k(a) - k(b);
  return 0;
};

const filesOn = (pred: (name: FileName) => boolean) => (Object.keys(shape.files) as FileName[]).filter(pred);
const refsOn = (names: FileName[]) => fdRefs(shape).filter((r) => names.includes(r.file));
const command = () => tree.argv.join(' ');
const fileId = (id: ObjectIds, name: FileName) => id('file', fileKey(shape, name));

/** open_files' rows: every fd of every process, by pid, fd table (in capture order) and fd. */
function openFileRows(checkpoint: number, refs: FdRef[] = fdRefs(shape)) {
  const ids = idsIn(checkpoint);
  return [...refs]
    .sort(byNumbers((r) => r.pid, (r) => ids('fdtable', String(r.table.name)), (r) => r.fd))
    .map((r) => {
      const f = shape.files[r.file];
      return {
        pid: r.pid, tid: r.tid, comm: shape.comm.get(r.tid), fd: r.fd, cloexec: r.cloexec, type: f.type, path: f.path, pos: f.pos,
        flags: f.flags, mode: f.mode, deleted: f.deleted, file_id: fileId(ids, r.file), shared: fdCount(shape, r.file),
        object_kind: f.object?.kind ?? null, object_key: f.object?.key ?? null,
        socket_family: f.object?.kind === 'socket' ? shape.sockets.get(f.object.key)!.family : null,
      };
    });
}

describe('canned queries on a live capture of a known process tree', () => {
  it('there is a test below for every canned query', () => {
    expect([...cannedQueries().keys()].sort()).toEqual([
      'deleted_files', 'epoll_watches', 'fd_counts', 'inotify_watches', 'no_cloexec', 'objects', 'open_files', 'pipes', 'process_tree',
      'shared_files', 'shared_tasks', 'sockets',
    ]);
  });

  it('open_files: every fd of every process, with its file and how many fds share it', () => {
    const all = openFileRows(live().newest);
    expect(all).toHaveLength(fdRefs(shape).length);
    expect(run('open_files')).toEqual(all);
    expect(run('open_files', { pid: tree.c1 })).toEqual(all.filter((r) => r.pid === tree.c1));
    // C3's own fd table, and the one its thread unshared: the thread's fds name the thread
    const c3 = run('open_files', { pid: tree.c3 });
    expect(c3.map((r) => [r.tid, r.fd, r.comm])).toEqual([
      [tree.c3, 0, tree.comm], [tree.c3, 1, tree.comm], [tree.c3, 2, tree.comm],
      [tree.t, 0, 'own-fds'], [tree.t, 1, 'own-fds'], [tree.t, 2, 'own-fds'], [tree.t, tree.own, 'own-fds'],
    ]);
    // V shares C3's fd table: the same open files, under V's pid
    expect(run('open_files', { pid: tree.v })).toEqual(all.filter((r) => r.pid === tree.v));
    expect(run('open_files', { pid: tree.v }).map((r) => r.file_id)).toEqual(c3.slice(0, 3).map((r) => r.file_id));
    expect(run('open_files', { pid: tree.parent, limit: 2 })).toEqual(all.slice(0, 2));
    // the older checkpoint of the same tree: the same fds, the ids of that checkpoint
    expect(run('open_files', { checkpoint: live().older })).toEqual(openFileRows(live().older));
    expect(run('open_files', { checkpoint: live().older })).not.toEqual(all);
  });

  it('shared_files: files with more than one fd, most shared first, with their holders', () => {
    const ids = idsIn(live().newest);
    const expected = filesOn((name) => fdCount(shape, name) > 1)
      .map((name) => {
        const f = shape.files[name];
        const refs = refsOn([name]);
        return {
          file_id: fileId(ids, name), type: f.type, path: f.path, pos: f.pos, flags: f.flags, fds: fdCount(shape, name),
          processes: new Set(refs.map((r) => r.pid)).size, holders: holdersText(refs), inferred: 0,
        };
      })
      .sort((a, b) => b.fds - a.fds || a.file_id - b.file_id);
    // data: dup'ed and inherited by the three forks; 0-2: every fd table of the tree
    expect(expected.map((r) => r.fds)).toEqual([8, 6, 6, 6, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2]);
    expect(run('shared_files', { limit: -1 })).toEqual(expected);
    expect(run('shared_files')).toEqual(expected.slice(0, 20));
    // fd 0 of every process, and of C3 twice: its own table and its thread's
    const nullHolders = [[tree.parent, ''], [tree.c1, ''], [tree.c2, ''], [tree.c3, ''], [tree.c3, `/${tree.t}`], [tree.g, ''], [tree.v, '']] as const;
    expect(expected.find((r) => r.path === '/dev/null')).toMatchObject({
      processes: 6, holders: [...nullHolders].sort((a, b) => a[0] - b[0]).map(([pid, tid]) => `${pid}${tid}:0`).join(' '),
    });
    // C3 holds only 0-2; the second open of data is C1's, inherited by G
    expect(run('shared_files', { pid: tree.c3, limit: -1 }).map((r) => r.file_id)).toEqual(
      expected.filter((r) => r.fds === 6).map((r) => r.file_id),
    );
    expect(run('shared_files', { pid: tree.g, limit: 1 })).toEqual([expected[0]]);
    expect(run('shared_files', { pid: tree.g, limit: -1 }).at(-1)).toEqual({
      ...expected.at(-1), path: `${tree.dir}/data`, pos: 0, holders: `${tree.c1}:${tree.reopen} ${tree.g}:${tree.reopen}`,
    });
  });

  it('pipes: the pipe and the FIFO, with who holds each end', () => {
    const ids = idsIn(live().newest);
    const end = (names: FileName[], mode: 'reads' | 'writes') =>
      holdersText(refsOn(names).filter((r) => (mode === 'reads' ? [0, 2] : [1, 2]).includes(shape.files[r.file].flags & 3))) || null;
    const pipe = { pipe_id: ids('pipe', shape.files.pipe_r.path), pipe: shape.files.pipe_r.path, read_end: end(['pipe_r', 'pipe_w'], 'reads'), write_end: end(['pipe_r', 'pipe_w'], 'writes') };
    // the FIFO is open read-write: one fd on both sides
    const fifo = { pipe_id: ids('pipe', `fifo:${tree.files.fifo}`), pipe: `${tree.dir}/fifo`, read_end: `${tree.parent}:${tree.fds.fifo}`, write_end: `${tree.parent}:${tree.fds.fifo}` };
    expect(pipe.read_end).toBe([tree.parent, tree.c1, tree.c2, tree.g].sort((a, b) => a - b).map((p) => `${p}:${tree.fds.pipe_r}`).join(' '));
    expect(run('pipes')).toEqual([pipe, fifo].sort((a, b) => a.pipe_id - b.pipe_id));
    expect(run('pipes', { pid: tree.parent, limit: 1 })).toEqual([[pipe, fifo].sort((a, b) => a.pipe_id - b.pipe_id)[0]]);
    expect(run('pipes', { pid: tree.g })).toEqual([pipe]);
    expect(run('pipes', { pid: tree.c3 })).toEqual([]);
  });

  it('sockets: listeners first, then connected sockets by state, with their holders', () => {
    const ids = idsIn(live().newest);
    const row = (role: string, name: FileName) => {
      const key = shape.files[name].path;
      return { role, ...shape.sockets.get(key)!, socket: key, holders: holdersText(refsOn([name])) };
    };
    const id = (r: { socket: string }) => ids('socket', r.socket);
    // unix and TCP sockets alike are ESTABLISHED once connected: one order, by object id
    const connected = (['stdout', 'sock_a', 'sock_b', 'accepted', 'client'] as const).map((n) => row('connected', n)).sort((a, b) => id(a) - id(b));
    const listening = row('listening', 'listen');
    // the UDP socket is bound but neither listening nor connected
    expect(run('sockets')).toEqual([listening, ...connected]);
    expect(connected.map((s) => s.state)).toEqual(Array(5).fill('ESTABLISHED'));
    expect(row('connected', 'sock_a')).toMatchObject({ family: 'unix', peer_ino: tree.inodes.sock_b });
    expect(row('connected', 'client')).toMatchObject({ local_port: tree.client_port, remote_port: tree.port, holders: `${tree.c1}:${tree.client}` });
    expect(run('sockets', { state: 'LISTEN' })).toEqual([listening]);
    expect(run('sockets', { state: 'ESTABLISHED' })).toEqual(connected);
    expect(run('sockets', { state: 'UNCONNECTED' })).toEqual([]);
    // C1's own TCP client, and the unix sockets it inherited
    const heldByC1 = connected.filter((s) => s.holders.split(' ').some((h) => h.startsWith(`${tree.c1}:`)));
    expect(heldByC1.map((s) => s.socket).sort()).toEqual(['stdout', 'sock_a', 'sock_b', 'client'].map((n) => shape.files[n as FileName].path).sort());
    expect(run('sockets', { pid: tree.c1, state: 'ESTABLISHED' })).toEqual(heldByC1);
    expect(run('sockets', { pid: tree.v })).toEqual([connected.find((s) => s.socket === shape.files.stdout.path)]);
    expect(run('sockets', { limit: 2 })).toEqual([listening, connected[0]]);
    expect(run('sockets', { checkpoint: live().older }).map((s) => s.socket)).toEqual([listening, ...connected].map((s) => s.socket));
  });

  it('deleted_files: the unlinked file and the memfd, still open', () => {
    const ids = idsIn(live().newest);
    const expected = refsOn(['deleted', 'memfd'])
      .sort(byNumbers((r) => r.pid, (r) => r.fd))
      .map((r) => {
        const f = shape.files[r.file];
        const [major, minor, inode] = f.object!.key.split(':');
        return {
          pid: r.pid, comm: tree.comm, fd: r.fd, type: f.type, path: f.path, pos: f.pos, flags: f.flags, dev: `${major}:${minor}`, inode: Number(inode),
          file_id: fileId(ids, r.file), shared: fdCount(shape, r.file),
        };
      });
    expect(expected).toHaveLength(8);
    expect(run('deleted_files')).toEqual(expected);
    expect(run('deleted_files', { pid: tree.g })).toEqual(expected.filter((r) => r.pid === tree.g));
    expect(run('deleted_files', { pid: tree.c3 })).toEqual([]);
    expect(run('deleted_files', { limit: 3 })).toEqual(expected.slice(0, 3));
  });

  it('fd_counts: fds per process, largest first; a thread with its own fd table counts for its process', () => {
    const expected = shape.processes
      .map((p) => ({
        pid: p.pid, comm: tree.comm,
        fds: shape.tables.filter((tb) => tb.holders.some((h) => h.pid === p.pid)).reduce((n, tb) => n + tb.fds.length, 0),
        threads: p.tids.length, command: command(), unreadable: null,
      }))
      .sort((a, b) => b.fds - a.fds || a.pid - b.pid);
    expect(expected.find((r) => r.pid === tree.c3)).toMatchObject({ fds: 7, threads: 2 });
    expect(expected.find((r) => r.pid === tree.v)).toMatchObject({ fds: 3, threads: 1 });
    expect(run('fd_counts')).toEqual(expected);
    expect(run('fd_counts', { limit: 1 })).toEqual(expected.slice(0, 1));
  });

  it('no_cloexec: the fds a process would hand to a program it runs', () => {
    const expected = openFileRows(live().newest)
      .filter((r) => r.cloexec === 0)
      .map(({ pid, comm, fd, type, path, flags, file_id, shared }) => ({ pid, comm, fd, type, path, flags, file_id, shared }));
    // 0-2 everywhere, and data with its dup where it was inherited
    expect(expected.filter((r) => r.pid === tree.g).map((r) => r.fd)).toEqual([0, 1, 2, tree.fds.data, tree.fds.dup]);
    expect(run('no_cloexec')).toEqual(expected);
    expect(run('no_cloexec', { pid: tree.c3 }).map((r) => r.fd)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(run('no_cloexec', { pid: tree.parent, limit: 4 })).toEqual(expected.slice(0, 4));
  });

  it('shared_tasks: address spaces and fd tables of threads, of a CLONE_VM | CLONE_FILES process, not of a thread that unshared', () => {
    const ids = idsIn(live().newest);
    const expected = (kinds: string[]) =>
      shape.taskObjects
        .filter((o) => kinds.includes(o.kind) && o.tids.length > 1)
        .map((o) => {
          const key = String(Math.min(...o.tids));
          const processes = shape.processes.filter((p) => p.tids.some((tid) => o.tids.includes(tid))).length;
          return { kind: o.kind, key, tasks: o.tids.length, processes, holders: taskHoldersText(shape, o.tids), inferred: 0, object_id: ids(o.kind, key) };
        })
        .sort((a, b) => b.tasks - a.tasks || a.object_id - b.object_id);
    const both = expected(['mm', 'fdtable']);
    // C2's four tasks share both; C3's address space is its thread's and V's too, its fd table only V's
    expect(both.map((o) => [o.kind, o.key, o.tasks, o.processes]).slice(2)).toEqual([['mm', String(tree.c3), 3, 2], ['fdtable', String(tree.c3), 2, 2]]);
    expect(new Set(both.slice(0, 2).map((o) => `${o.kind} ${o.key} ${o.tasks}`))).toEqual(new Set([`mm ${tree.c2} 4`, `fdtable ${tree.c2} 4`]));
    expect(run('shared_tasks')).toEqual(both);
    expect(run('shared_tasks', { kind: 'mm' })).toEqual(expected(['mm']));
    expect(run('shared_tasks', { kind: 'fs' })).toEqual(expected(['fs']));
    expect(run('shared_tasks', { kind: 'sighand' })).toEqual(expected(['sighand']));
    expect(run('shared_tasks', { pid: tree.v })).toEqual(both.filter((o) => o.key === String(tree.c3)));
    expect(run('shared_tasks', { pid: tree.c1 })).toEqual([]);
    expect(run('shared_tasks', { limit: 1 })).toEqual(both.slice(0, 1));
  });

  it('process_tree: depth first from the root, children by pid, with threads and command lines', () => {
    const p = (pid: number, depth: number) => {
      const proc = shape.processes.find((x) => x.pid === pid)!;
      return {
        pid, ppid: proc.ppid, depth, comm: tree.comm, threads: proc.tids.length, state: 'S', uid: process.getuid!(),
        command: command(), cmdline: JSON.stringify(tree.argv),
      };
    };
    const children = (pid: number, depth: number): ReturnType<typeof p>[] =>
      shape.processes
        .filter((x) => x.ppid === pid)
        .flatMap((x) => [p(x.pid, depth), ...children(x.pid, depth + 1)]);
    const expected = [p(tree.parent, 0), ...children(tree.parent, 1)];
    const subtrees = [[tree.c1, tree.g], [tree.c2], [tree.c3, tree.v]].sort((a, b) => a[0]! - b[0]!);
    expect(expected.map((r) => [r.pid, r.depth])).toEqual([
      [tree.parent, 0], ...subtrees.flatMap(([child, grandchild]) => [[child, 1], ...(grandchild ? [[grandchild, 2]] : [])]),
    ]);
    expect(run('process_tree')).toEqual(expected);
    expect(run('process_tree', { pid: tree.c3 })).toEqual([p(tree.c3, 0), p(tree.v, 1)]);
    expect(run('process_tree', { limit: 2 })).toEqual(expected.slice(0, 2));
    expect(run('process_tree', { pid: tree.t })).toEqual([]);
  });

  it('objects: every object of the checkpoint with its refcount and holders', () => {
    const ids = idsIn(live().newest);
    const allTids = shape.processes.flatMap((p) => p.tids);
    const names = Object.keys(shape.files) as FileName[];
    const objects: { kind: string; key: string; refcount: number; holders: string }[] = [
      ...names.map((name) => ({ kind: 'file', key: fileKey(shape, name), refcount: fdCount(shape, name), holders: holdersText(refsOn([name])) })),
      ...[...new Map(names.filter((n) => shape.files[n].object).map((n) => [shape.files[n].object!.key, shape.files[n].object!])).values()].map((o) => {
        const on = names.filter((n) => shape.files[n].object?.key === o.key);
        return { kind: o.kind, key: o.key, refcount: on.length, holders: holdersText(refsOn(on)) };
      }),
      ...shape.taskObjects.map((o) => ({ kind: o.kind, key: String(Math.min(...o.tids)), refcount: o.tids.length, holders: taskHoldersText(shape, o.tids) })),
      // pid and pid_for_children (time and time_for_children) are one namespace: two references per task
      ...[...new Set(NAMESPACE_TYPES.map((type) => tree.namespaces[type]).filter((l) => l !== undefined))].map((link) => ({
        kind: 'ns', key: link!, refcount: allTids.length * NAMESPACE_TYPES.filter((type) => tree.namespaces[type] === link).length,
        holders: taskHoldersText(shape, allTids),
      })),
    ];
    const expected = objects
      .map((o) => ({ object_id: ids(o.kind, o.key), kind: o.kind, key: o.key, refcount: o.refcount, inferred: 0, holders: o.holders }))
      .sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.refcount - b.refcount || a.object_id - b.object_id));
    const stored = session.db.prepare('SELECT count(*) FROM shared_objects WHERE checkpoint_id = ?').pluck().get(live().newest);
    expect(expected).toHaveLength(stored as number);
    expect(run('objects', { limit: -1 })).toEqual(expected);
    expect(run('objects', { kind: 'pipe' })).toEqual(expected.filter((o) => o.kind === 'pipe'));
    // the pipe; the FIFO is a pipe too, held by the parent alone
    expect(run('objects', { kind: 'pipe' }).map((o) => o.key)).toEqual([`fifo:${tree.files.fifo}`, shape.files.pipe_r.path]);
    expect(run('objects', { kind: 'pipe' })[1]!.holders).toBe(
      [tree.parent, tree.c1, tree.c2, tree.g].sort((a, b) => a - b).map((p) => `${p}:${tree.fds.pipe_r},${tree.fds.pipe_w}`).join(' '),
    );
    expect(run('objects', { kind: 'inode', shared: 1 })).toEqual(expected.filter((o) => o.kind === 'inode' && o.refcount > 1));
    expect(run('objects', { kind: 'fdtable' })).toEqual(expected.filter((o) => o.kind === 'fdtable'));
    expect(run('objects', { shared: 1, limit: -1 })).toEqual(expected.filter((o) => o.refcount > 1));
    expect(run('objects', { limit: 5 })).toEqual(expected.slice(0, 5));
  });

  it('refuses unknown queries and parameters, and checkpoints that do not exist', () => {
    expect(() => run('nope')).toThrowError(/^no canned query named 'nope'$/);
    expect(() => run('pipes', { pidd: 3 })).toThrowError("canned query pipes has no parameter 'pidd'");
    expect(() => run('pipes', { checkpoint: 99 })).toThrowError(/^no checkpoint 99 in /);
    expect(() => run('pipes', { checkpoint: 'x' })).toThrowError('--param checkpoint=x: a checkpoint id is a positive integer');
  });
});

describe('views on a live capture of a known process tree', () => {
  it('object_holders: who references an object, through fds or as a task', () => {
    const ids = idsIn(live().newest);
    const holders = (kind: string, key: string) =>
      [...session.sql('SELECT pid, tid, fd FROM object_holders WHERE object_id = :id ORDER BY pid, tid, fd', { id: ids(kind, key) }).rows];
    const byFd = (names: FileName[]) =>
      refsOn(names).map(({ pid, tid, fd }) => ({ pid, tid, fd })).sort(byNumbers((r) => r.pid, (r) => r.tid, (r) => r.fd));
    const asTasks = (tids: number[]) =>
      shape.processes.flatMap((p) => p.tids.filter((tid) => tids.includes(tid)).map((tid) => ({ pid: p.pid, tid, fd: null }))).sort(byNumbers((r) => r.pid, (r) => r.tid));
    expect(holders('pipe', shape.files.pipe_r.path)).toEqual(byFd(['pipe_r', 'pipe_w']));
    expect(holders('file', fileKey(shape, 'null'))).toEqual(byFd(['null']));
    expect(holders('inode', tree.files.data)).toEqual(byFd(['data', 'reopen']));
    expect(holders('mm', String(tree.c3))).toEqual(asTasks([tree.c3, tree.t, tree.v]));
    expect(holders('fdtable', String(tree.t))).toEqual(asTasks([tree.t]));
    expect(holders('ns', tree.namespaces.net!)).toEqual(asTasks(shape.processes.flatMap((p) => p.tids)));
  });
});

/**
 * Unix sockets a live capture of the tree does not have: a listener with a name, and a
 * datagram socket connected on a kernel that left it UNCONNECTED (kernels before the
 * 2021 commit 83301b5367a9 did; CRIU images taken there hold such sockets), written
 * through the writer as the CRIU import writes them.
 */
describe('sockets with peers, as every source records them', () => {
  it('lists each end of a pair with its peer, and a datagram socket sending to a peer, as connected', () => {
    const path = tempStorePath();
    const store = openStore(path);
    const w = store.beginCheckpoint({ source: 'criu' });
    const table = w.addSharedObject({ kind: 'fdtable', key: '1' });
    const socket = (ino: number, fd: number, details: Omit<SocketInput, 'object'>) => {
      const object = w.addSharedObject({ kind: 'socket', key: `socket:[${ino}]` });
      w.addSocket({ object, ...details });
      const file = w.addFile({ key: `1:${fd}`, type: 'socket', path: `socket:[${ino}]`, flags: 2, object });
      w.addFd({ fdtable: table, fd, cloexec: false, file });
    };
    socket(10, 3, { family: 'unix', type: 'stream', state: 'ESTABLISHED', peerIno: 11 });
    socket(11, 4, { family: 'unix', type: 'stream', state: 'ESTABLISHED', peerIno: 10 });
    socket(12, 5, { family: 'unix', type: 'stream', state: 'LISTEN', localAddr: '/run/app.sock' });
    socket(13, 6, { family: 'unix', type: 'dgram', state: 'UNCONNECTED' });
    socket(14, 7, { family: 'unix', type: 'dgram', state: 'UNCONNECTED', peerIno: 99 });
    w.addTask({ pid: 1, tgid: 1, fdtable: table });
    w.done();
    store.close();
    const s = QuerySession.open(path);
    try {
      const row = (role: string, ino: number, type: string, state: string, fd: number, extra: Record<string, unknown> = {}) => ({
        role, family: 'unix', type, state, local_addr: null, local_port: null, remote_addr: null, remote_port: null, peer_ino: null,
        socket: `socket:[${ino}]`, holders: `1:${fd}`, ...extra,
      });
      expect([...s.canned('sockets').rows]).toEqual([
        row('listening', 12, 'stream', 'LISTEN', 5, { local_addr: '/run/app.sock' }),
        row('connected', 10, 'stream', 'ESTABLISHED', 3, { peer_ino: 11 }),
        row('connected', 11, 'stream', 'ESTABLISHED', 4, { peer_ino: 10 }),
        row('connected', 14, 'dgram', 'UNCONNECTED', 7, { peer_ino: 99 }),
      ]);
    } finally {
      s.close();
    }
  });
});

describe('canned queries on the details of anonymous files (fixtures/anon-files.py)', () => {
  interface Made { epoll: number; eventfd: number; reused: number; inotify: number; wd_dir: number; wd_file: number; dir: string; file: string }

  async function captured(): Promise<{ made: Made; pid: number; rows: (name: string) => Record<string, unknown>[]; close: () => void }> {
    const dir = tempDir();
    const { child, info } = await startFixture<Made>('anon-files.py', [dir]);
    const path = tempStorePath();
    const store = openStore(path);
    await captureProcesses(store, { pids: [child.pid!] });
    store.close();
    const q = QuerySession.open(path);
    return { made: info, pid: child.pid!, rows: (name) => [...q.canned(name, {}).rows], close: () => q.close() };
  }

  it('epoll_watches: each target with its events, data, and what its fd is now', async () => {
    const { made, pid, rows, close } = await captured();
    const ids = rows('epoll_watches').map(({ epoll_file_id: _, ...r }) => r);
    close();
    // by watched fd: the eventfd was made before the pipe
    expect(made.eventfd).toBeLessThan(made.reused);
    expect(ids).toEqual([
      // the kernel adds EPOLLERR and EPOLLHUP (18) to every target's events
      { pid, epoll_fd: made.epoll, tfd: made.eventfd, events: '19', data: '1234', target_type: 'eventfd', target_path: 'anon_inode:[eventfd]', same_file: 1 },
      // the pipe's fd was closed and its number taken by a file: the epoll still watches the pipe
      { pid, epoll_fd: made.epoll, tfd: made.reused, events: '80000019', data: '7', target_type: 'reg', target_path: made.file, same_file: 0 },
    ]);
  });

  it('inotify_watches: the watched inodes, their masks and the paths they are open as', async () => {
    const { made, pid, rows, close } = await captured();
    const got = rows('inotify_watches');
    close();
    const st = (p: string) => statSync(p);
    const dev = (p: string) => `${Math.floor(Number(st(p).dev) / 256) & 0xfff}:${Number(st(p).dev) & 0xff}`;
    const want = [
      { dev: dev(made.dir), inode: Number(st(made.dir).ino), mask: '300', wd: made.wd_dir, pid, inotify_fd: made.inotify, open_as: null },
      { dev: dev(made.file), inode: Number(st(made.file).ino), mask: '2', wd: made.wd_file, pid, inotify_fd: made.inotify, open_as: made.file },
    ].sort((a, b) => a.inode - b.inode);
    expect(got.map(({ inotify_file_id: _, ...r }) => r)).toEqual(want);
  });
});
