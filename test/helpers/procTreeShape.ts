/**
 * The shape test/fixtures/proc-tree.py builds, as a capture must record it, written
 * out in the pids, fd numbers and inodes the fixture reports: every open file, every
 * fd table with its fds and the processes holding it, every task and the objects
 * tasks share, every socket. The query tests derive each canned query's expected
 * rows from it; row ids are never written down, they come from the store, looked up
 * by the keys the capture gives objects (an open file by its first pid:fd, a task
 * object by its lowest tid).
 */
import type { ProcTree } from './processes.js';

export type FileName =
  | 'null' | 'stdout' | 'stderr' | 'data' | 'private' | 'deleted' | 'pipe_r' | 'pipe_w' | 'sock_a' | 'sock_b' | 'listen'
  | 'eventfd' | 'epoll' | 'memfd' | 'accepted' | 'fifo' | 'udp' | 'reopen' | 'client' | 'own';

export interface ObjectRef {
  kind: 'inode' | 'pipe' | 'socket';
  key: string;
}

/** An open file as the store must hold it. */
export interface FileSpec {
  type: string;
  path: string;
  pos: number | bigint;
  flags: number;
  mode: number;
  deleted: 0 | 1;
  object: ObjectRef | null;
}

export interface FdSpec {
  fd: number;
  file: FileName;
  cloexec: 0 | 1;
}

/** An fd table: named by its lowest tid, held by processes through one task each. */
export interface TableSpec {
  name: number;
  holders: { pid: number; tid: number }[];
  fds: FdSpec[];
}

export interface ProcessSpec {
  pid: number;
  ppid: number;
  /** Its tasks, main thread first. */
  tids: number[];
}

/** A kernel object some tasks share (or one task alone uses). */
export interface TaskObjectSpec {
  kind: 'mm' | 'fdtable' | 'fs' | 'sighand';
  tids: number[];
}

export interface SocketSpec {
  family: string;
  type: string;
  state: string;
  local_addr: string | null;
  local_port: number | null;
  remote_addr: string | null;
  remote_port: number | null;
  peer_ino: number | null;
}

/** One fd as a process holds it: a table's fd, once per process holding the table. */
export interface FdRef extends FdSpec {
  pid: number;
  tid: number;
  table: TableSpec;
}

export interface TreeShape {
  files: Record<FileName, FileSpec>;
  tables: TableSpec[];
  processes: ProcessSpec[];
  /** comm of every task. */
  comm: Map<number, string>;
  taskObjects: TaskObjectSpec[];
  /** By socket key ('socket:[4711]'). */
  sockets: Map<string, SocketSpec>;
}

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_APPEND = 0o2000;
// the kernel adds it to every open() of a 64-bit process (the x86-64 value)
const O_LARGEFILE = 0o100000;
const S_IFCHR = 0o20000;
const S_IFREG = 0o100000;
const S_IFIFO = 0o10000;
const S_IFSOCK = 0o140000;

export function procTreeShape(t: ProcTree): TreeShape {
  const inode = (name: keyof ProcTree['files']): ObjectRef => ({ kind: 'inode', key: t.files[name] });
  const reg = (name: keyof ProcTree['files'], flags: number): FileSpec => ({
    type: 'reg', path: `${t.dir}/${name}`, pos: 0, flags: flags | O_LARGEFILE, mode: S_IFREG | 0o600, deleted: 0, object: inode(name),
  });
  const socket = (ino: number): FileSpec => ({
    type: 'socket', path: `socket:[${ino}]`, pos: 0, flags: O_RDWR, mode: S_IFSOCK | 0o777, deleted: 0, object: { kind: 'socket', key: `socket:[${ino}]` },
  });
  const pipe = `pipe:[${t.inodes.pipe_r}]`;
  const pipeEnd = (flags: number): FileSpec => ({ type: 'pipe', path: pipe, pos: 0, flags, mode: S_IFIFO | 0o600, deleted: 0, object: { kind: 'pipe', key: pipe } });
  const anon = (type: string, path: string): FileSpec => ({ type, path, pos: 0, flags: O_RDWR, mode: 0o600, deleted: 0, object: null });
  const files: Record<FileName, FileSpec> = {
    null: { type: 'chr', path: '/dev/null', pos: 0, flags: O_LARGEFILE, mode: S_IFCHR | 0o666, deleted: 0, object: inode('null') },
    stdout: socket(t.inodes.stdout),
    stderr: reg('stderr', O_WRONLY | O_APPEND),
    data: { ...reg('data', O_RDWR), pos: 1234 },
    private: reg('private', 0),
    deleted: { ...reg('deleted', O_WRONLY), deleted: 1 },
    pipe_r: pipeEnd(0),
    pipe_w: pipeEnd(O_WRONLY),
    sock_a: socket(t.inodes.sock_a),
    sock_b: socket(t.inodes.sock_b),
    listen: socket(t.inodes.listen),
    eventfd: anon('eventfd', 'anon_inode:[eventfd]'),
    epoll: anon('epoll', 'anon_inode:[eventpoll]'),
    memfd: {
      type: 'memfd', path: '/memfd:ckptdb-test', pos: 2n ** 60n + 1n, flags: O_RDWR | O_LARGEFILE, mode: S_IFREG | 0o777, deleted: 1, object: inode('memfd'),
    },
    accepted: socket(t.inodes.accepted),
    // every open of a FIFO shares the pipe on its inode
    fifo: { type: 'fifo', path: `${t.dir}/fifo`, pos: 0, flags: O_RDWR | O_LARGEFILE, mode: S_IFIFO | 0o600, deleted: 0, object: { kind: 'pipe', key: `fifo:${t.files.fifo}` } },
    udp: socket(t.inodes.udp),
    reopen: reg('data', O_RDWR),
    client: socket(t.inodes.client),
    own: reg('own', 0),
  };

  const fd = (n: number, file: FileName, cloexec: 0 | 1): FdSpec => ({ fd: n, file, cloexec });
  const std = [fd(0, 'null', 0), fd(1, 'stdout', 0), fd(2, 'stderr', 0)];
  const f = t.fds;
  const inherited = [
    ...std, fd(f.data, 'data', 0), fd(f.dup, 'data', 0), fd(f.private, 'private', 1), fd(f.deleted, 'deleted', 1),
    fd(f.pipe_r, 'pipe_r', 1), fd(f.pipe_w, 'pipe_w', 1), fd(f.sock_a, 'sock_a', 1), fd(f.sock_b, 'sock_b', 1),
    fd(f.listen, 'listen', 1), fd(f.eventfd, 'eventfd', 1), fd(f.epoll, 'epoll', 1), fd(f.memfd, 'memfd', 1),
  ];
  // users: every task on the table, the holders' and their threads'
  const table = (holders: [number, number][], fds: FdSpec[], users = holders.map(([, tid]) => tid)): TableSpec => ({
    name: Math.min(...users),
    holders: holders.map(([pid, tid]) => ({ pid, tid })),
    fds: [...fds].sort((a, b) => a.fd - b.fd),
  });
  const tables = [
    table([[t.parent, t.parent]], [...inherited, fd(f.accepted, 'accepted', 1), fd(f.fifo, 'fifo', 1), fd(f.udp, 'udp', 1)]),
    table([[t.c1, t.c1]], [...inherited, fd(t.reopen, 'reopen', 1), fd(t.client, 'client', 1)]),
    table([[t.g, t.g]], [...inherited, fd(t.reopen, 'reopen', 1)]),
    table([[t.c2, t.c2]], inherited, [t.c2, ...t.threads]),
    table([[t.c3, t.c3], [t.v, t.v]], std),
    table([[t.c3, t.t]], [...std, fd(t.own, 'own', 1)]),
  ].sort((a, b) => a.name - b.name);

  const processes: ProcessSpec[] = [
    { pid: t.parent, ppid: t.ppid, tids: [t.parent] },
    { pid: t.c1, ppid: t.parent, tids: [t.c1] },
    { pid: t.g, ppid: t.c1, tids: [t.g] },
    { pid: t.c2, ppid: t.parent, tids: [t.c2, ...t.threads] },
    { pid: t.c3, ppid: t.parent, tids: [t.c3, t.t] },
    { pid: t.v, ppid: t.c3, tids: [t.v] },
  ].sort((a, b) => a.pid - b.pid);
  const comm = new Map<number, string>();
  for (const p of processes) for (const tid of p.tids) comm.set(tid, t.comm);
  for (const tid of t.threads) comm.set(tid, 'worker');
  comm.set(t.t, 'own-fds');

  // fork gives each process objects of its own, which its threads share
  const forked = [[t.parent], [t.c1], [t.g], [t.c2, ...t.threads]];
  const taskObjects: TaskObjectSpec[] = [
    ...(['mm', 'fs', 'sighand'] as const).flatMap((kind) => [...forked, [t.c3, t.t, t.v]].map((tids) => ({ kind, tids }))),
    ...[...forked, [t.c3, t.v], [t.t]].map((tids) => ({ kind: 'fdtable' as const, tids })),
  ];

  const unix = (peer: number): SocketSpec => ({
    family: 'unix', type: 'stream', state: 'ESTABLISHED', local_addr: null, local_port: null, remote_addr: null, remote_port: null, peer_ino: peer,
  });
  const inet = (type: string, state: string, local: number, remote: [string, number]): SocketSpec => ({
    family: 'inet', type, state, local_addr: '127.0.0.1', local_port: local, remote_addr: remote[0], remote_port: remote[1], peer_ino: null,
  });
  const sockets = new Map<string, SocketSpec>([
    [files.stdout.path, unix(t.inodes.stdout_peer)],
    [files.sock_a.path, unix(t.inodes.sock_b)],
    [files.sock_b.path, unix(t.inodes.sock_a)],
    [files.listen.path, inet('stream', 'LISTEN', t.port, ['0.0.0.0', 0])],
    [files.accepted.path, inet('stream', 'ESTABLISHED', t.port, ['127.0.0.1', t.client_port])],
    [files.client.path, inet('stream', 'ESTABLISHED', t.client_port, ['127.0.0.1', t.port])],
    [files.udp.path, inet('dgram', 'UNCONNECTED', t.udp_port, ['0.0.0.0', 0])],
  ]);
  return { files, tables, processes, comm, taskObjects, sockets };
}

/** Every fd of every process: each fd of a table once per process holding it. */
export function fdRefs(shape: TreeShape): FdRef[] {
  return shape.tables.flatMap((table) => table.holders.flatMap((h) => table.fds.map((d) => ({ ...d, ...h, table }))));
}

/** How many fds (table slots, not holders) point at the file: its refcount. */
export function fdCount(shape: TreeShape, file: FileName): number {
  return shape.tables.reduce((n, tb) => n + tb.fds.filter((d) => d.file === file).length, 0);
}

/** The key a capture gives an open file: the first table (by name) and fd that reach it. */
export function fileKey(shape: TreeShape, file: FileName): string {
  for (const tb of shape.tables) {
    const d = tb.fds.find((x) => x.file === file);
    if (d) return `${tb.name}:${d.fd}`;
  }
  throw new Error(`no fd on ${file}`);
}

/** The canned queries' holder lists: `pid:fd,fd pid/tid:fd`, by pid and tid, a tid shown when not the pid. */
export function holdersText(refs: { pid: number; tid: number; fd: number }[]): string {
  const groups = new Map<string, { pid: number; tid: number; fds: number[] }>();
  for (const r of refs) {
    const k = `${r.pid}/${r.tid}`;
    const g = groups.get(k) ?? { pid: r.pid, tid: r.tid, fds: [] };
    g.fds.push(r.fd);
    groups.set(k, g);
  }
  return [...groups.values()]
    .sort((a, b) => a.pid - b.pid || a.tid - b.tid)
    .map((g) => `${g.pid}${g.tid === g.pid ? '' : `/${g.tid}`}:${g.fds.sort((a, b) => a - b).join(',')}`)
    .join(' ');
}

/** The holder lists of task objects: `pid/tid,tid pid/tid`, by pid. */
export function taskHoldersText(shape: TreeShape, tids: number[]): string {
  return shape.processes
    .map((p) => ({ pid: p.pid, tids: p.tids.filter((tid) => tids.includes(tid)).sort((a, b) => a - b) }))
    .filter((p) => p.tids.length)
    .map((p) => `${p.pid}/${p.tids.join(',')}`)
    .join(' ');
}
