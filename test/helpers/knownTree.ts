/**
 * A process tree of known shape, as the live capture records one: a shell running
 * `server | cat`, the server with three threads (one of which unshared its fd table),
 * a worker it forked (inheriting stdin, stdout, the log and the listening socket), a
 * vfork child of the worker sharing its address space, and cat reading the pipe.
 *
 * fillKnownTree writes it through the checkpoint writer. It stands in for a real
 * capture of spawned processes until the /proc capture lands: a test that swaps it
 * for `spawn the tree + capture` keeps every expectation, because expectations name
 * processes through `pids` and open files through `files`, never through ids.
 */
import type { CheckpointWriter, FileType, Store } from '../../src/index.js';

export interface FileSpec {
  type: FileType;
  path: string;
  pos: number | null;
  flags: number;
  mode: number | null;
  deleted?: boolean;
  /** The object behind the file: [kind, key]. */
  object: ['inode' | 'pipe' | 'socket' | 'anon', string];
  /** How many fds of the tree point at it: the refcount the store must show. */
  shared: number;
}

export const FILES = {
  null: { type: 'chr', path: '/dev/null', pos: 0, flags: 0o2, mode: 0o20666, object: ['inode', '0:5:4'], shared: 5 },
  tty: { type: 'chr', path: '/dev/pts/0', pos: 0, flags: 0o2, mode: 0o20620, object: ['inode', '0:24:3'], shared: 3 },
  xw: { type: 'pipe', path: 'pipe:[5001]', pos: null, flags: 0o1, mode: 0o10600, object: ['pipe', 'pipe:[5001]'], shared: 8 },
  xr: { type: 'pipe', path: 'pipe:[5001]', pos: null, flags: 0o0, mode: 0o10600, object: ['pipe', 'pipe:[5001]'], shared: 1 },
  listen: { type: 'socket', path: 'socket:[6001]', pos: null, flags: 0o2, mode: 0o140777, object: ['socket', 'socket:[6001]'], shared: 2 },
  log: { type: 'reg', path: '/tmp/ckptdb/server.log', pos: 1234, flags: 0o2001, mode: 0o100644, object: ['inode', '8:1:1001'], shared: 2 },
  scratch: { type: 'reg', path: '/tmp/ckptdb/scratch', pos: 0, flags: 0o2, mode: 0o100600, deleted: true, object: ['inode', '8:1:1002'], shared: 1 },
  yw: { type: 'pipe', path: 'pipe:[5002]', pos: null, flags: 0o1, mode: 0o10600, object: ['pipe', 'pipe:[5002]'], shared: 1 },
  yr: { type: 'pipe', path: 'pipe:[5002]', pos: null, flags: 0o0, mode: 0o10600, object: ['pipe', 'pipe:[5002]'], shared: 1 },
  conn: { type: 'socket', path: 'socket:[6002]', pos: null, flags: 0o2, mode: 0o140777, object: ['socket', 'socket:[6002]'], shared: 1 },
  ua: { type: 'socket', path: 'socket:[6003]', pos: null, flags: 0o2, mode: 0o140777, object: ['socket', 'socket:[6003]'], shared: 1 },
  ub: { type: 'socket', path: 'socket:[6004]', pos: null, flags: 0o2, mode: 0o140777, object: ['socket', 'socket:[6004]'], shared: 1 },
  out: { type: 'reg', path: '/tmp/ckptdb/out.txt', pos: 42, flags: 0o1, mode: 0o100644, object: ['inode', '8:1:1003'], shared: 1 },
  udp: { type: 'socket', path: 'socket:[6005]', pos: null, flags: 0o2, mode: 0o140777, object: ['socket', 'socket:[6005]'], shared: 1 },
} satisfies Record<string, FileSpec>;
export type FileName = keyof typeof FILES;

/** What the kernel shows of each socket. */
export const SOCKETS = {
  'socket:[6001]': { family: 'inet', type: 'stream', state: 'LISTEN', localAddr: '127.0.0.1', localPort: 8080 },
  'socket:[6002]': { family: 'inet', type: 'stream', state: 'ESTABLISHED', localAddr: '127.0.0.1', localPort: 8080, remoteAddr: '127.0.0.1', remotePort: 50000 },
  'socket:[6003]': { family: 'unix', type: 'stream', state: null, peerIno: 6004 },
  'socket:[6004]': { family: 'unix', type: 'stream', state: null, peerIno: 6003 },
  'socket:[6005]': { family: 'inet', type: 'dgram', state: 'UNCONNECTED', localAddr: '0.0.0.0', localPort: 5353, remotePort: 0 },
} as const;

export type ProcessName = 'shell' | 'server' | 'worker' | 'vforker' | 'cat';

/** A command line with a comma, quotes and a newline, for the CSV tests. */
export const WORKER_ARGV = ['python3', '-c', 'print("a, b")\nwork()', '--name=w,"1"'];

/** Each fd table: [fd, file, cloexec]. */
const TABLES: Record<string, [number, FileName, boolean][]> = {
  shell: [[0, 'null', false], [1, 'tty', false], [2, 'tty', false]],
  server: [[0, 'null', false], [1, 'xw', false], [2, 'xw', false], [3, 'listen', true], [4, 'log', false], [5, 'scratch', true], [6, 'yw', true]],
  // thread 2 of the server called unshare(CLONE_FILES) and closed all but 0-2
  serverThread: [[0, 'null', false], [1, 'xw', false], [2, 'xw', false]],
  worker: [[0, 'null', false], [1, 'xw', false], [2, 'xw', false], [3, 'listen', true], [4, 'log', false], [5, 'yr', true], [6, 'conn', true], [7, 'ua', true], [8, 'ub', true]],
  vforker: [[0, 'null', false], [1, 'xw', false], [2, 'xw', false]],
  cat: [[0, 'xr', false], [1, 'out', false], [2, 'tty', false], [3, 'udp', true]],
};

interface TaskSpec {
  process: ProcessName;
  /** Offset of the thread id from the process's pid. */
  thread: number;
  parent: ProcessName | null;
  comm: string;
  argv: string[];
  mm: string;
  table: keyof typeof TABLES;
}

const TASKS: TaskSpec[] = [
  { process: 'shell', thread: 0, parent: null, comm: 'bash', argv: ['bash', '-c', 'server | cat'], mm: 'shell', table: 'shell' },
  { process: 'server', thread: 0, parent: 'shell', comm: 'python3', argv: ['python3', 'server.py', '--port', '8080'], mm: 'server', table: 'server' },
  { process: 'server', thread: 1, parent: 'shell', comm: 'python3', argv: ['python3', 'server.py', '--port', '8080'], mm: 'server', table: 'server' },
  { process: 'server', thread: 2, parent: 'shell', comm: 'python3', argv: ['python3', 'server.py', '--port', '8080'], mm: 'server', table: 'serverThread' },
  { process: 'worker', thread: 0, parent: 'server', comm: 'python3', argv: WORKER_ARGV, mm: 'worker', table: 'worker' },
  // vfork(): the child runs in the worker's address space until it execs
  { process: 'vforker', thread: 0, parent: 'worker', comm: 'sh', argv: ['sh', '-c', 'true'], mm: 'worker', table: 'vforker' },
  { process: 'cat', thread: 0, parent: 'shell', comm: 'cat', argv: ['cat'], mm: 'cat', table: 'cat' },
];

export interface KnownTree {
  checkpointId: number;
  pids: Record<ProcessName, number>;
  /** file_id of each open file. */
  files: Record<FileName, number>;
  /** shared_objects id by key (pipes, sockets, inodes, mm:NAME, fdtable:NAME). */
  objects: Record<string, number>;
}

/** Writes the tree as one checkpoint; pids start at `base`. */
export function fillKnownTree(store: Store, base = 1000, label = 'known tree'): KnownTree {
  const pids: Record<ProcessName, number> = { shell: base, server: base + 100, worker: base + 200, vforker: base + 201, cat: base + 300 };
  const w = store.beginCheckpoint({ source: 'proc', label, host: 'testhost', kernel: '6.1.0', rootPid: pids.shell, frozen: true });
  const objects: Record<string, number> = {};
  const object = (kind: Parameters<CheckpointWriter['addSharedObject']>[0]['kind'], key: string) =>
    (objects[key] ??= w.addSharedObject({ kind, key }));
  const files = {} as Record<FileName, number>;
  for (const [name, f] of Object.entries(FILES) as [FileName, FileSpec][]) {
    const obj = object(f.object[0], f.object[1]);
    const inode = f.object[0] === 'inode' ? Number(f.object[1].split(':')[2]) : null;
    files[name] = w.addFile({
      key: `file:${name}`, type: f.type, path: f.path, pos: f.pos, flags: f.flags, mode: f.mode, deleted: f.deleted ?? false,
      dev: inode === null ? null : f.object[1].split(':').slice(0, 2).join(':'), inode, object: obj,
    });
  }
  for (const [key, s] of Object.entries(SOCKETS)) w.addSocket({ object: objects[key]!, ...s });
  for (const [table, fds] of Object.entries(TABLES)) {
    const ft = object('fdtable', `fdtable:${table}`);
    for (const [fd, file, cloexec] of fds) w.addFd({ fdtable: ft, fd, cloexec, file: files[file] });
  }
  const net = object('ns', 'net:[4026531840]');
  for (const t of TASKS) {
    const pid = pids[t.process];
    w.addTask({
      pid: pid + t.thread, tgid: pid, ppid: t.parent ? pids[t.parent] : 1, pgid: pids.shell, sid: pids.shell, state: 'S',
      comm: t.comm, uid: 1000, euid: 1000, gid: 1000, egid: 1000, cmdline: t.argv, exe: `/usr/bin/${t.argv[0]}`, cwd: '/tmp',
      startTime: 5000 + pid + t.thread, mm: object('mm', `mm:${t.mm}`), fdtable: object('fdtable', `fdtable:${t.table}`),
      namespaces: { net },
    });
  }
  const r = w.done();
  return { checkpointId: r.checkpointId, pids, files, objects };
}
