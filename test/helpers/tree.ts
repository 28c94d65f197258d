/**
 * A process tree as a model, and its checkpoint written through the writer in the shape
 * a /proc capture produces: one task per thread, address space / fd table / fs /
 * sighand objects keyed locally to the capture, namespaces and inodes / pipes / sockets
 * keyed by kernel identity, an open file written once however many fds share it.
 *
 * The diff tests make changes through the methods below and checkpoint the tree before
 * and after: exact shapes that live processes make hard to pin down (a reused pid,
 * sharing won and lost, 64-bit positions, every field of the text). The issue's own
 * test, on spawned processes and the live capture, is test/diff-capture.test.ts; a
 * tree of spawned processes with these methods (each sends the change to the process)
 * and a `checkpoint` that captures it can stand in for this model, because the
 * expectations name processes, fds and files, never row ids.
 */
import type { CheckpointWriter, FileType, ObjectId, Store } from '../../src/index.js';

export interface OpenFile {
  type: FileType;
  path: string;
  pos: number | bigint;
  flags: number;
  mode: number;
  dev: string;
  inode: number;
  /** The object behind it; several open files may stand on one. */
  object: { kind: 'inode' | 'pipe' | 'socket'; key: string; state?: string };
}

export interface Fd {
  file: OpenFile;
  cloexec: boolean;
}

export interface Thread {
  pid: number;
  startTime: number;
  /** 'own' after unshare(CLONE_FILES) / unshare(CLONE_FS); else the process's. */
  fdtable: 'process' | 'own';
  fs: 'process' | 'own';
  /** The fds of its own fd table. */
  fds: Map<number, Fd>;
}

export interface MemoryMap {
  start: bigint;
  end: bigint;
  perms: string;
  pgoff: number;
  path: string | null;
  inode: number | null;
}

export interface Proc {
  pid: number;
  startTime: number;
  ppid: number;
  comm: string;
  cmdline: string[];
  fds: Map<number, Fd>;
  maps: MemoryMap[];
  threads: Thread[];
  /** The inode of its network namespace, the same for its threads. */
  netns: number;
  nofile: number;
  /** Its main thread exited while its other threads run: a zombie holding no address space, fd table or fs. */
  leaderExited?: boolean;
}

export const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'] as const;
const NS_INODE = { cgroup: 4026531835, ipc: 4026531839, mnt: 4026531841, net: 4026531840, pid: 4026531836, user: 4026531837, uts: 4026531838 };
export const nsKey = (type: (typeof NAMESPACES)[number], inode: number = NS_INODE[type]) => `${type}:[${inode}]`;

const O_RDONLY = 0, O_WRONLY = 0o1, O_RDWR = 0o2, O_APPEND = 0o2000, O_LARGEFILE = 0o100000;

function regular(path: string, inode: number, flags: number, pos: number | bigint = 0): OpenFile {
  return { type: 'reg', path, pos, flags: flags | O_LARGEFILE, mode: 0o100644, dev: '8:1', inode, object: { kind: 'inode', key: `8:1:${inode}` } };
}

/**
 * The tree the tests start from: python3 (4100) with a tty on 0-2, a pipe on 3 and 4,
 * a log open for appending on 5, /etc/hosts on 6, a unix socket on 7; its children
 * 4101 (holding the pipe's read end) and 4102 (holding its write end).
 */
export class Tree {
  readonly procs = new Map<number, Proc>();
  private nextInode = 700_000;

  constructor() {
    const tty: OpenFile = { type: 'chr', path: '/dev/pts/0', pos: 0, flags: O_RDWR, mode: 0o20620, dev: '0:25', inode: 3, object: { kind: 'inode', key: '0:25:3' } };
    const pipeIn: OpenFile = { type: 'pipe', path: 'pipe:[9001]', pos: 0, flags: O_RDONLY, mode: 0o10600, dev: '0:14', inode: 9001, object: { kind: 'pipe', key: 'pipe:[9001]' } };
    const pipeOut: OpenFile = { ...pipeIn, flags: O_WRONLY };
    const sock: OpenFile = { type: 'socket', path: 'socket:[9100]', pos: 0, flags: O_RDWR, mode: 0o140777, dev: '0:9', inode: 9100, object: { kind: 'socket', key: 'socket:[9100]', state: 'ESTABLISHED' } };
    const main = this.add({
      pid: 4100, startTime: 5_000_000, ppid: 1, comm: 'python3', cmdline: ['python3', 'tree.py'],
      fds: new Map([
        [0, { file: tty, cloexec: false }], [1, { file: tty, cloexec: false }], [2, { file: tty, cloexec: false }],
        [3, { file: pipeIn, cloexec: false }], [4, { file: pipeOut, cloexec: false }],
        [5, { file: regular('/tmp/tree/log', 500_001, O_WRONLY | O_APPEND, 100), cloexec: false }],
        [6, { file: regular('/etc/hosts', 500_002, O_RDONLY), cloexec: true }],
        [7, { file: sock, cloexec: true }],
      ]),
      maps: [
        { start: 0x55d0c0a00000n, end: 0x55d0c0a71000n, perms: 'r-xp', pgoff: 0, path: '/usr/bin/python3.11', inode: 400_001 },
        { start: 0x55d0c1e00000n, end: 0x55d0c1e21000n, perms: 'rw-p', pgoff: 0, path: '[heap]', inode: null },
        { start: 0x7ffd4a1c0000n, end: 0x7ffd4a1e1000n, perms: 'rw-p', pgoff: 0, path: '[stack]', inode: null },
        { start: 0xffffffffff600000n, end: 0xffffffffff601000n, perms: '--xp', pgoff: 0, path: '[vsyscall]', inode: null },
      ],
      threads: [],
      netns: NS_INODE.net,
      nofile: 1024,
    });
    this.fork(main.pid, 4101, 5_000_100, (fds) => fds.delete(4));
    this.fork(main.pid, 4102, 5_000_200, (fds) => fds.delete(3));
    for (const pid of [4101, 4102]) {
      const child = this.proc(pid);
      child.comm = 'sleep';
      child.cmdline = ['sleep', '1000'];
      for (const fd of [5, 6, 7]) child.fds.delete(fd);
    }
  }

  proc(pid: number): Proc {
    const p = this.procs.get(pid);
    if (!p) throw new Error(`no process ${pid} in the tree`);
    return p;
  }

  fd(pid: number, fd: number): Fd {
    const f = this.proc(pid).fds.get(fd);
    if (!f) throw new Error(`no fd ${fd} in process ${pid}`);
    return f;
  }

  /** open(2) of a new regular file at the lowest free fd; returns the fd and inode. */
  openFile(pid: number, path: string): { fd: number; inode: number } {
    const fds = this.proc(pid).fds;
    let fd = 0;
    while (fds.has(fd)) fd++;
    const inode = this.nextInode++;
    fds.set(fd, { file: regular(path, inode, O_RDWR), cloexec: false });
    return { fd, inode };
  }

  /** write(2) or lseek(2): the open file's position moves, for every fd sharing it. */
  advance(pid: number, fd: number, by: number | bigint): void {
    const file = this.fd(pid, fd).file;
    file.pos = typeof file.pos === 'bigint' || typeof by === 'bigint' ? BigInt(file.pos) + BigInt(by) : file.pos + by;
  }

  close(pid: number, fd: number): void {
    this.fd(pid, fd);
    this.proc(pid).fds.delete(fd);
  }

  clearCloexec(pid: number, fd: number): void {
    this.fd(pid, fd).cloexec = false;
  }

  /** fork(2): the child shares every open file of the parent and copies its maps. */
  fork(parent: number, pid: number, startTime: number, adjust?: (fds: Map<number, Fd>) => void): Proc {
    const p = this.proc(parent);
    const fds = new Map([...p.fds].map(([n, f]) => [n, { ...f }]));
    adjust?.(fds);
    return this.add({ ...p, pid, startTime, ppid: parent, cmdline: [...p.cmdline], fds, maps: p.maps.map((m) => ({ ...m })), threads: [], leaderExited: false });
  }

  exit(pid: number): void {
    this.proc(pid);
    this.procs.delete(pid);
  }

  startThread(pid: number, tid: number, startTime: number): void {
    this.proc(pid).threads.push({ pid: tid, startTime, fdtable: 'process', fs: 'process', fds: new Map() });
  }

  thread(tid: number): Thread {
    const thread = [...this.procs.values()].flatMap((p) => p.threads).find((t) => t.pid === tid);
    if (!thread) throw new Error(`no thread ${tid}`);
    return thread;
  }

  /** unshare(CLONE_FS) in a thread: it gets an fs info of its own. */
  unshareFs(tid: number): void {
    this.thread(tid).fs = 'own';
  }

  /** unshare(CLONE_FILES) in a thread: it gets a copy of its process's fd table, the same open files in it. */
  unshareFiles(tid: number): void {
    const thread = this.thread(tid);
    const process = [...this.procs.values()].find((p) => p.threads.includes(thread))!;
    thread.fdtable = 'own';
    thread.fds = new Map([...process.fds].map(([n, f]) => [n, { ...f }]));
  }

  /** An fd of the fd table that thread tid has of its own. */
  threadFd(tid: number, fd: number): Fd {
    const f = this.thread(tid).fds.get(fd);
    if (!f) throw new Error(`no fd ${fd} in the fd table of thread ${tid}`);
    return f;
  }

  /** The main thread of a process exits alone (SYS_exit), its other threads run on. */
  leaderExits(pid: number): void {
    const p = this.proc(pid);
    if (p.threads.length === 0) throw new Error(`process ${pid} has no other thread`);
    p.leaderExited = true;
  }

  /** mmap(2) of anonymous memory. */
  mapMemory(pid: number, start: bigint, length: bigint): void {
    const maps = this.proc(pid).maps;
    maps.push({ start, end: start + length, perms: 'rw-p', pgoff: 0, path: null, inode: null });
    maps.sort((x, y) => (x.start < y.start ? -1 : 1));
  }

  /** mprotect(2) of a whole map. */
  protect(pid: number, start: bigint, perms: string): void {
    const map = this.proc(pid).maps.find((m) => m.start === start);
    if (!map) throw new Error(`no map at ${start.toString(16)} in process ${pid}`);
    map.perms = perms;
  }

  /** unshare(CLONE_NEWNET): the process (all its threads) in a new network namespace. */
  unshareNet(pid: number, inode: number): void {
    this.proc(pid).netns = inode;
  }

  /** setrlimit(RLIMIT_NOFILE). */
  setNofile(pid: number, soft: number): void {
    this.proc(pid).nofile = soft;
  }

  /** The socket behind an fd changes state (shutdown, peer closed). */
  setSocketState(pid: number, fd: number, state: string): void {
    this.fd(pid, fd).file.object.state = state;
  }

  /**
   * open("/proc/self/fd/N"): fd N of the process now points to a new open file of the
   * same object, so it no longer shares one with the fds it shared with before.
   */
  reopen(pid: number, fd: number): void {
    const f = this.fd(pid, fd);
    f.file = { ...f.file };
  }

  /** The pid is now another process: it ended and a new one got its pid. */
  reusePid(pid: number, startTime: number, comm: string): void {
    const old = this.proc(pid);
    this.exit(pid);
    this.add({ ...old, startTime, comm, cmdline: [comm], fds: new Map(), maps: [], threads: [], leaderExited: false });
  }

  private add(p: Proc): Proc {
    this.procs.set(p.pid, p);
    return p;
  }
}

export interface CheckpointOptions {
  label?: string;
  /** The order processes are written in; a re-capture walks the tree in another order. */
  order?: 'pid' | 'reverse';
}

/**
 * Writes the tree as one checkpoint and returns its id. Capture-local keys (open files,
 * address spaces, fd tables, fs, sighand) carry the label, so two checkpoints of one
 * tree share no such key, as two captures would not.
 */
export function checkpoint(store: Store, tree: Tree, opts: CheckpointOptions = {}): number {
  const label = opts.label ?? 'tree';
  const w = store.beginCheckpoint({ source: 'proc', label, rootPid: 4100, kernel: '6.1.0-test', host: 'testbox' });
  const ns = (p: Proc) => Object.fromEntries(NAMESPACES.map((t) => [t, w.addSharedObject({ kind: 'ns', key: t === 'net' ? nsKey(t, p.netns) : nsKey(t) })]));
  const objects = new Map<string, ObjectId>();
  const files = new Map<OpenFile, ObjectId>();
  const procs = [...tree.procs.values()].sort((x, y) => (opts.order === 'reverse' ? y.pid - x.pid : x.pid - y.pid));
  for (const p of procs) {
    const local = (kind: 'mm' | 'fdtable' | 'fs' | 'sighand', pid: number) => w.addSharedObject({ kind, key: `${label}/${kind}:${pid}` });
    const mm = local('mm', p.pid);
    const fdtable = local('fdtable', p.pid);
    const fs = local('fs', p.pid);
    const sighand = local('sighand', p.pid);
    const task = (pid: number, startTime: number, own: { fdtable?: ObjectId; fs?: ObjectId }, zombie = false) => w.addTask({
      pid, tgid: p.pid, ppid: p.ppid, pgid: 4100, sid: 4000, state: zombie ? 'Z' : 'S', comm: p.comm,
      uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 1000, egid: 1000, sgid: 1000, fsgid: 1000,
      cmdline: p.cmdline, exe: p.cmdline[0] === 'python3' ? '/usr/bin/python3.11' : '/usr/bin/sleep', cwd: '/tmp/tree', root: '/',
      startTime, sigPending: '0000000000000000', sigBlocked: '0000000000000000', sigIgnored: '0000000001001000', sigCaught: '0000000180004002',
      // as capture keeps a zombie: no address space, fd table or fs, its signal handlers
      ...(zombie ? { mm: null, fdtable: null, fs: null } : { mm, fdtable: own.fdtable ?? fdtable, fs: own.fs ?? fs }),
      sighand, namespaces: ns(p),
      rlimits: [{ resource: 'nofile', soft: p.nofile, hard: 524288 }, { resource: 'stack', soft: 8388608, hard: null }],
    });
    const addFds = (table: ObjectId, owner: number, fds: Map<number, Fd>) => {
      for (const [n, fd] of [...fds].sort((x, y) => x[0] - y[0])) {
        w.addFd({ fdtable: table, fd: n, cloexec: fd.cloexec, file: fileId(w, fd.file, `${label}/${owner}:${n}`, objects, files) });
      }
    };
    task(p.pid, p.startTime, {}, p.leaderExited);
    for (const t of p.threads) {
      const ownTable = t.fdtable === 'own' ? local('fdtable', t.pid) : undefined;
      task(t.pid, t.startTime, { fdtable: ownTable, fs: t.fs === 'own' ? local('fs', t.pid) : undefined });
      if (ownTable !== undefined) addFds(ownTable, t.pid, t.fds);
    }
    addFds(fdtable, p.pid, p.fds);
    for (const m of p.maps) {
      w.addMap({ mm, start: m.start, end: m.end, perms: m.perms, pgoff: m.pgoff, dev: m.inode === null ? '00:00' : '08:01', inode: m.inode ?? 0, path: m.path });
    }
  }
  return w.done().checkpointId;
}

function fileId(w: CheckpointWriter, f: OpenFile, key: string, objects: Map<string, ObjectId>, files: Map<OpenFile, ObjectId>): ObjectId {
  const known = files.get(f);
  if (known !== undefined) return known;
  let object = objects.get(f.object.key);
  if (object === undefined) {
    object = w.addSharedObject({ kind: f.object.kind, key: f.object.key });
    if (f.object.kind === 'socket') w.addSocket({ object, family: 'unix', type: 'stream', state: f.object.state, localAddr: '/tmp/tree/sock', peerIno: f.inode + 1 });
    objects.set(f.object.key, object);
  }
  const id = w.addFile({ key, type: f.type, path: f.path, pos: f.pos, flags: f.flags, mode: f.mode, mntId: 30, dev: f.dev, inode: f.inode, object });
  files.set(f, id);
  return id;
}
