/**
 * capture against a real process tree of known shape (test/fixtures/proc-tree.py):
 * the store must hold exactly that shape, sharing and refcounts included.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { startProcTree, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';


interface FdRow {
  pid: number;
  fd: number;
  cloexec: number;
  file_id: number;
  key: string;
  refcount: number;
  inferred: number;
  type: string;
  path: string | null;
  pos: bigint | number | null;
  deleted: number;
  object_id: number | null;
}

async function captureTree(args: string[] = []) {
  const db = tempStorePath();
  const info: ProcTree = await startProcTree(tempDir());
  const r = await runCli(['capture', String(info.parent), '--tree', ...args], { db });
  expect(r.stderr).not.toMatch(/warning: .*vanished/);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^\d+\n$/);
  const store = openStore(db, { create: false });
  return { store, info, id: Number(r.stdout), stderr: r.stderr };
}

/** Every fd of every process (pid = tgid) with its file and the file's shared object. */
function fdRows(store: Store, id: number): FdRow[] {
  return store.db
    .prepare(
      `SELECT t.pid, d.fd, d.cloexec, d.file_id, o.key, o.refcount, o.inferred, f.type, f.path, f.pos, f.deleted, f.object_id
       FROM tasks t JOIN fds d ON d.fdtable_id = t.fdtable_id
       JOIN files f ON f.id = d.file_id JOIN shared_objects o ON o.id = f.id
       WHERE t.checkpoint_id = ? AND t.pid = t.tgid ORDER BY t.pid, d.fd`,
    )
    .safeIntegers(false)
    .all(id) as FdRow[];
}

function fdOf(rows: FdRow[], pid: number, fd: number): FdRow {
  const row = rows.find((r) => r.pid === pid && r.fd === fd);
  if (!row) throw new Error(`no fd ${fd} of ${pid} in the store`);
  return row;
}

describe('capture of a live process tree', () => {
  it('stores the tree, its threads and the objects its tasks share', async () => {
    const { store, info, id } = await captureTree();
    const tasks = store.db.prepare('SELECT pid, tgid, ppid, mm_id, fdtable_id, fs_id, sighand_id FROM tasks WHERE checkpoint_id = ? ORDER BY pid').all(id) as {
      pid: number; tgid: number; ppid: number; mm_id: number; fdtable_id: number; fs_id: number; sighand_id: number;
    }[];
    const processes = [info.parent, info.c1, info.c2, info.c3, info.g, info.v].sort((a, b) => a - b);
    expect(tasks.map((t) => t.pid)).toEqual([...processes, ...info.threads, info.t].sort((a, b) => a - b));
    const byPid = new Map(tasks.map((t) => [t.pid, t]));
    expect(byPid.get(info.c1)!.ppid).toBe(info.parent);
    expect(byPid.get(info.c2)!.ppid).toBe(info.parent);
    expect(byPid.get(info.c3)!.ppid).toBe(info.parent);
    expect(byPid.get(info.g)!.ppid).toBe(info.c1);
    expect(byPid.get(info.v)!.ppid).toBe(info.c3);

    // the threads of c2 are tasks of c2 sharing everything with its main thread
    const main = byPid.get(info.c2)!;
    for (const tid of info.threads) {
      const t = byPid.get(tid)!;
      expect(t.tgid).toBe(info.c2);
      expect([t.mm_id, t.fdtable_id, t.fs_id, t.sighand_id]).toEqual([main.mm_id, main.fdtable_id, main.fs_id, main.sighand_id]);
    }
    // c3's thread unshared its fd table and nothing else; v, a process of its own, shares all four with c3
    const c3 = byPid.get(info.c3)!;
    const t3 = byPid.get(info.t)!;
    expect(t3.tgid).toBe(info.c3);
    expect([t3.mm_id, t3.fs_id, t3.sighand_id]).toEqual([c3.mm_id, c3.fs_id, c3.sighand_id]);
    expect(t3.fdtable_id).not.toBe(c3.fdtable_id);
    const v = byPid.get(info.v)!;
    expect(v.tgid).toBe(info.v);
    expect([v.mm_id, v.fdtable_id, v.fs_id, v.sighand_id]).toEqual([c3.mm_id, c3.fdtable_id, c3.fs_id, c3.sighand_id]);
    // processes made by fork share none of them (fork copies)
    const mains = [info.parent, info.c1, info.c2, info.c3, info.g].map((p) => byPid.get(p)!);
    for (const kind of ['mm_id', 'fdtable_id', 'fs_id', 'sighand_id'] as const) {
      expect(new Set(mains.map((t) => t[kind])).size).toBe(5);
    }
    // one fd table object per table, counted once per task using it, keyed by its first task
    const tables = store.db.prepare(`SELECT key, refcount, inferred FROM shared_objects WHERE checkpoint_id = ? AND kind = 'fdtable' ORDER BY key`).all(id);
    const users: [number, number][] = [[info.parent, 1], [info.c1, 1], [info.g, 1], [info.c2, 4], [Math.min(info.c3, info.v), 2], [info.t, 1]];
    expect(tables).toEqual(users.map(([tid, refcount]) => ({ key: String(tid), refcount, inferred: 0 })).sort((a, b) => a.key.localeCompare(b.key)));
    expect(store.verify(id)).toEqual([]);
    store.close();
  });

  it('threads sharing an fd table do not duplicate its fds', async () => {
    const { store, info, id } = await captureTree();
    const live = readdirSync(`/proc/${info.c2}/fd`).length;
    const stored = store.db
      .prepare('SELECT count(*) FROM fds WHERE fdtable_id = (SELECT fdtable_id FROM tasks WHERE checkpoint_id = ? AND pid = ?)')
      .pluck()
      .get(id, info.c2);
    expect(stored).toBe(live);
    const perTask = store.db.prepare('SELECT count(DISTINCT fdtable_id) FROM tasks WHERE checkpoint_id = ? AND tgid = ?').pluck().get(id, info.c2);
    expect(perTask).toBe(1);
    store.close();
  });

  it('shares an open file exactly where the kernel does: fork and dup share, a second open does not', async () => {
    const { store, info, id } = await captureTree();
    const rows = fdRows(store, id);
    const holders = [info.parent, info.c1, info.c2, info.g];
    const data = fdOf(rows, info.parent, info.fds.data);
    // opened before the forks and dup'ed: one open file for 8 fds in 4 processes
    for (const pid of holders) {
      expect(fdOf(rows, pid, info.fds.data).file_id).toBe(data.file_id);
      expect(fdOf(rows, pid, info.fds.dup).file_id).toBe(data.file_id);
    }
    expect(rows.filter((r) => r.file_id === data.file_id)).toHaveLength(8);
    expect(data).toMatchObject({ key: `${info.parent}:${info.fds.data}`, refcount: 8, inferred: 0, type: 'reg', path: `${info.dir}/data`, pos: 1234 });
    // c1 opened the same path again after the fork: its own open file (inherited by g), same inode
    const reopen = fdOf(rows, info.c1, info.reopen);
    expect(reopen.file_id).not.toBe(data.file_id);
    expect(reopen).toMatchObject({ key: `${info.c1}:${info.reopen}`, refcount: 2, pos: 0, path: `${info.dir}/data` });
    expect(fdOf(rows, info.g, info.reopen).file_id).toBe(reopen.file_id);
    expect(reopen.object_id).toBe(data.object_id);
    const inode = store.db.prepare('SELECT kind, refcount FROM shared_objects WHERE id = ?').get(data.object_id);
    expect(inode).toEqual({ kind: 'inode', refcount: 2 });
    store.close();
  });

  it('records close-on-exec per fd, offsets, deleted files and every kind of file', async () => {
    const { store, info, id } = await captureTree();
    const rows = fdRows(store, id);
    const p = (fd: number) => fdOf(rows, info.parent, fd);
    expect(p(info.fds.data).cloexec).toBe(0);
    expect(p(info.fds.dup).cloexec).toBe(0);
    expect(p(info.fds.private).cloexec).toBe(1);
    expect(p(info.fds.deleted)).toMatchObject({ type: 'reg', path: `${info.dir}/deleted`, deleted: 1 });
    expect(p(info.fds.private).deleted).toBe(0);
    expect(p(info.fds.eventfd).type).toBe('eventfd');
    expect(p(info.fds.epoll).type).toBe('epoll');
    expect(p(info.fds.memfd)).toMatchObject({ type: 'memfd', path: '/memfd:ckptdb-test' });

    // pipe: two open files (read end, write end) on one pipe object, each shared by the 4 processes
    const r = p(info.fds.pipe_r);
    const w = p(info.fds.pipe_w);
    expect(r.file_id).not.toBe(w.file_id);
    expect([r.type, r.refcount, w.type, w.refcount]).toEqual(['pipe', 4, 'pipe', 4]);
    expect(r.object_id).toBe(w.object_id);
    const pipe = store.db.prepare('SELECT kind, key, refcount FROM shared_objects WHERE id = ?').get(r.object_id) as { kind: string; key: string; refcount: number };
    expect(pipe).toMatchObject({ kind: 'pipe', refcount: 2 });
    expect(pipe.key).toMatch(/^pipe:\[\d+\]$/);
    expect(r.path).toBe(pipe.key);
    store.close();
  });

  it('keeps 64-bit offsets and addresses exact', async () => {
    const { store, info, id } = await captureTree();
    const pos = store.db
      .prepare(`SELECT f.pos FROM files f WHERE f.checkpoint_id = ? AND f.id = (SELECT file_id FROM fds d JOIN tasks t ON t.fdtable_id = d.fdtable_id WHERE t.checkpoint_id = ? AND t.pid = ? AND d.fd = ?)`)
      .pluck()
      .safeIntegers(true)
      .get(id, id, info.parent, info.fds.memfd);
    expect(pos).toBe(2n ** 60n + 1n);
    // the vsyscall page lies above 2^63
    const vsyscall = store.db.prepare(`SELECT start_addr, end_addr FROM maps WHERE checkpoint_id = ? AND path = '[vsyscall]' LIMIT 1`).get(id) as
      | { start_addr: string; end_addr: string }
      | undefined;
    const live = readFileSync(`/proc/${info.parent}/maps`, 'utf8');
    const line = live.split('\n').find((l) => l.endsWith('[vsyscall]'));
    // kernels booted with vsyscall=none have no such page
    if (line) {
      const [start, end] = line.split(' ')[0]!.split('-');
      expect(vsyscall).toEqual({ start_addr: start!.padStart(16, '0'), end_addr: end!.padStart(16, '0') });
    }
    const maps = store.db.prepare(`SELECT count(*) FROM maps WHERE checkpoint_id = ? AND mm_id = (SELECT mm_id FROM tasks WHERE checkpoint_id = ? AND pid = ?)`).pluck().get(id, id, info.parent);
    expect(maps).toBe(live.trim().split('\n').length);
    store.close();
  });

  it('describes sockets as sock_diag and /proc/net show them: the socketpair and the TCP listener', async () => {
    const { store, info, id } = await captureTree();
    const rows = fdRows(store, id);
    const sock = (fd: number) =>
      store.db.prepare('SELECT family, sock_type, protocol, state, local_addr, local_port FROM sockets WHERE object_id = ?').get(fdOf(rows, info.parent, fd).object_id);
    expect(sock(info.fds.listen)).toEqual({ family: 'inet', sock_type: 'stream', protocol: 'tcp', state: 'LISTEN', local_addr: '127.0.0.1', local_port: info.port });
    for (const fd of [info.fds.sock_a, info.fds.sock_b]) {
      expect(sock(fd)).toMatchObject({ family: 'unix', sock_type: 'stream', state: 'ESTABLISHED' });
      const row = fdOf(rows, info.parent, fd);
      expect([row.type, row.refcount]).toEqual(['socket', 4]);
    }
    expect(fdOf(rows, info.parent, info.fds.sock_a).object_id).not.toBe(fdOf(rows, info.parent, info.fds.sock_b).object_id);
    store.close();
  });

  it('records the peer of each end of a socketpair, and of the socket the test gave as stdout', async () => {
    const { store, info, id } = await captureTree();
    const rows = fdRows(store, id);
    const peer = (fd: number) => store.db.prepare('SELECT peer_ino FROM sockets WHERE object_id = ?').pluck().get(fdOf(rows, info.parent, fd).object_id);
    const peers = [peer(info.fds.sock_a), peer(info.fds.sock_b), peer(1)];
    store.close();
    // stdout's peer is outside the capture: this process's end of the socketpair
    expect(peers).toEqual([info.inodes.sock_b, info.inodes.sock_a, info.inodes.stdout_peer]);
  });

  it('stores task details: command line, namespaces, limits, and no environment unless asked', async () => {
    const { store, info, id } = await captureTree();
    const t = store.db.prepare('SELECT comm, cmdline, exe, cwd, root, state, env, start_time, sig_blocked FROM tasks WHERE checkpoint_id = ? AND pid = ?').get(id, info.parent) as Record<string, unknown>;
    expect(JSON.parse(t.cmdline as string)).toEqual(expect.arrayContaining([expect.stringMatching(/proc-tree\.py$/), info.dir]));
    expect(t.env).toBeNull();
    expect(t.root).toBe('/');
    expect(t.sig_blocked).toMatch(/^[0-9a-f]{16}$/);
    const ns = store.db.prepare('SELECT n.type, o.key FROM task_namespaces n JOIN shared_objects o ON o.id = n.ns_id JOIN tasks t ON t.id = n.task_id WHERE t.checkpoint_id = ? AND t.pid = ?').all(id, info.parent) as { type: string; key: string }[];
    expect(ns.map((n) => n.type)).toEqual(expect.arrayContaining(['mnt', 'net', 'pid', 'user', 'uts', 'ipc']));
    expect(ns.find((n) => n.type === 'net')!.key).toBe(readlinkSync(`/proc/${info.parent}/ns/net`));
    const nofile = store.db.prepare(`SELECT soft, hard FROM task_rlimits r JOIN tasks t ON t.id = r.task_id WHERE t.checkpoint_id = ? AND t.pid = ? AND resource = 'nofile'`).get(id, info.parent);
    const limits = readFileSync(`/proc/${info.parent}/limits`, 'utf8');
    const m = /Max open files\s+(\d+)\s+(\d+)/.exec(limits)!;
    expect(nofile).toEqual({ soft: Number(m[1]), hard: Number(m[2]) });
    store.close();
  });

  it('records environments with --with-env and leaves out skipped parts', async () => {
    const { store, info, id } = await captureTree(['--with-env', '--skip', 'maps,limits', '--skip', 'namespaces']);
    const env = store.db.prepare('SELECT env FROM tasks WHERE checkpoint_id = ? AND pid = ?').pluck().get(id, info.parent) as string;
    expect(JSON.parse(env)).toEqual(expect.arrayContaining([expect.stringMatching(/^PATH=/)]));
    const count = (table: string) => store.db.prepare(`SELECT count(*) FROM ${table} WHERE checkpoint_id = ?`).pluck().get(id);
    expect([count('maps'), count('task_rlimits'), count('task_namespaces')]).toEqual([0, 0, 0]);
    expect(count('fds')).toBeGreaterThan(0);
    const meta = JSON.parse(store.db.prepare('SELECT meta FROM checkpoints WHERE id = ?').pluck().get(id) as string);
    expect(meta.capture).toMatchObject({ withEnv: true, skip: ['maps', 'limits', 'namespaces'] });
    store.close();
  });
});
