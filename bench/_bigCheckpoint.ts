/**
 * A checkpoint of a busy machine, written through the checkpoint writer, with the
 * shapes that make queries hard: services whose workers are forked children
 * (inheriting open files, so one open file has several fds), threads sharing an
 * address space and fd table, pipes between parent and child and inside one
 * process, TCP listeners and connections, unix socket pairs, dup()ed fds, regular
 * files on a shared set of inodes, a few deleted files still open, a mix of
 * close-on-exec. Deterministic: the same arguments give the same checkpoint.
 */
import type { CheckpointWriter, ObjectId, Store } from '../src/index.js';

export interface BigCheckpointShape {
  /** fds in the checkpoint, exactly. */
  fds: number;
  /** Service trees; each is a root process with forked workers. */
  services: number;
  /** Workers per service. */
  workersPerService: number;
  /** The host it was taken on; default: bench. */
  host?: string;
}

export interface BigCheckpoint {
  checkpointId: number;
  processes: number;
  tasks: number;
  fds: number;
  /** The process holding the most fds, for queries filtered by pid. */
  busiestPid: number;
}

interface Proc {
  pid: number;
  ppid: number;
  fdtable: ObjectId;
  nextFd: number;
  /** fds a forked child inherits: [fd, file]. */
  inheritable: [number, ObjectId][];
}

const INODE_POOL = 5000;

export function writeBigCheckpoint(store: Store, shape: BigCheckpointShape): BigCheckpoint {
  const w = store.beginCheckpoint({ source: 'proc', label: 'bench', host: shape.host ?? 'bench', kernel: '6.1.0', frozen: true, rootPid: 1 });
  const g = new Generator(w, shape);
  g.run();
  const r = w.done();
  return { checkpointId: r.checkpointId, processes: g.processes, tasks: r.counts.tasks, fds: r.counts.fds, busiestPid: g.busiestPid };
}

class Generator {
  processes = 0;
  busiestPid = 0;
  private busiest = 0;
  private written = 0;
  private nextPid = 100;
  private seq = 0;
  private readonly inodes: ObjectId[] = [];
  private readonly net: ObjectId;

  constructor(private readonly w: CheckpointWriter, private readonly shape: BigCheckpointShape) {
    this.net = w.addSharedObject({ kind: 'ns', key: 'net:[4026531840]' });
    for (let i = 0; i < INODE_POOL; i++) this.inodes.push(w.addSharedObject({ kind: 'inode', key: `8:1:${100000 + i}` }));
  }

  run(): void {
    const { services, workersPerService, fds } = this.shape;
    const total = services * (1 + workersPerService);
    // pipes to workers and inherited fds come on top of what fill() adds
    const perProcess = Math.floor(fds / total) - 3;
    let made = 0;
    // the last process takes what is left, so that the checkpoint has exactly `fds`
    const target = (p: Proc, n: number) => (++made === total ? this.countOf(p) + fds - this.written : n);
    for (let s = 0; s < services; s++) {
      const root = this.process(1, `svc${s}`, null, s);
      // some roots hold a few hundred more fds than their workers, as servers do
      const extra = (s % 3) * 300;
      this.fill(root, target(root, perProcess + extra));
      for (let k = 0; k < workersPerService; k++) {
        const worker = this.process(root.pid, `svc${s}-w`, root, s * 1000 + k);
        this.pipeBetween(root, worker);
        this.fill(worker, target(worker, perProcess - Math.floor(extra / workersPerService)));
      }
    }
  }

  private process(ppid: number, comm: string, parent: Proc | null, n: number): Proc {
    const w = this.w;
    const pid = this.nextPid;
    const threads = n % 8 === 0 ? 8 : n % 3 === 0 ? 3 : 1;
    this.nextPid += threads;
    const mm = w.addSharedObject({ kind: 'mm', key: `mm:${pid}` });
    const fdtable = w.addSharedObject({ kind: 'fdtable', key: `fdtable:${pid}` });
    const fs = w.addSharedObject({ kind: 'fs', key: `fs:${pid}` });
    const sighand = w.addSharedObject({ kind: 'sighand', key: `sighand:${pid}` });
    for (let t = 0; t < threads; t++) {
      w.addTask({
        pid: pid + t, tgid: pid, ppid, pgid: parent ? parent.pid : pid, sid: parent ? parent.pid : pid, state: 'S', comm,
        uid: 1000, euid: 1000, gid: 1000, egid: 1000,
        cmdline: ['/usr/bin/' + comm, '--config', `/etc/${comm}.conf`, `--worker=${n}`],
        exe: '/usr/bin/' + comm, cwd: '/', root: '/', startTime: 1000 + pid,
        mm, fdtable, fs, sighand, namespaces: { net: this.net },
      });
    }
    this.processes++;
    const p: Proc = { pid, ppid, fdtable, nextFd: 0, inheritable: [] };
    if (parent) {
      // fork(): the child's fds point at the parent's open files
      for (const [fd, file] of parent.inheritable) this.fd(p, file, false, fd);
      p.nextFd = Math.max(...parent.inheritable.map(([fd]) => fd)) + 1;
      p.inheritable = parent.inheritable;
    } else {
      const devnull = w.addFile({ key: `${pid}:0`, type: 'chr', path: '/dev/null', flags: 0o2, mode: 0o20666, dev: '0:5', inode: 4 });
      const journal = this.pipe(`journal-${pid}`);
      const log = w.addFile({ key: `${pid}:log`, type: 'reg', path: `/var/log/${comm}.log`, pos: 1 << 20, flags: 0o2001, mode: 0o100640, dev: '8:1', inode: 900000 + pid, object: this.inode(pid) });
      const listen = this.socket(pid, 'inet', 'stream', 'LISTEN', '0.0.0.0', 8000 + (pid % 1000), null, null);
      const stdout = w.addFile({ key: `${pid}:1`, type: 'pipe', path: `pipe:[${journal.key}]`, flags: 0o1, object: journal.id });
      for (const file of [devnull, stdout, stdout, log, listen]) p.inheritable.push([this.fd(p, file, false), file]);
    }
    return p;
  }

  /** Adds fds until the process holds `target`, in a mix of kinds. */
  private fill(p: Proc, target: number): void {
    const w = this.w;
    while (this.countOf(p) < target) {
      const j = this.seq++;
      const left = target - this.countOf(p);
      switch (j % 10) {
        case 0: case 1: case 2: case 3: {
          const f = this.socket(p.pid, 'inet', 'stream', 'ESTABLISHED', '10.0.0.1', 8000 + (j % 1000), '10.0.' + (j % 250) + '.9', 30000 + (j % 30000));
          this.fd(p, f, j % 3 !== 0);
          break;
        }
        case 4: case 5: {
          const deleted = j % 97 === 0;
          const ino = j % INODE_POOL;
          const f = w.addFile({
            key: `${p.pid}:r${j}`, type: 'reg', path: deleted ? `/tmp/scratch-${j}` : `/usr/lib/lib${ino}.so`, pos: (j * 4096) % 65536,
            flags: 0, mode: 0o100644, dev: '8:1', inode: 100000 + ino, deleted, object: this.inodes[ino]!,
          });
          this.fd(p, f, true);
          break;
        }
        case 6: {
          if (left < 2) continue;
          const pipe = this.pipe(`self-${j}`);
          this.fd(p, w.addFile({ key: `${p.pid}:pr${j}`, type: 'pipe', path: `pipe:[${pipe.key}]`, flags: 0o4000, object: pipe.id }), true);
          this.fd(p, w.addFile({ key: `${p.pid}:pw${j}`, type: 'pipe', path: `pipe:[${pipe.key}]`, flags: 0o4001, object: pipe.id }), true);
          break;
        }
        case 7: {
          if (left < 2) continue;
          const a = 7000000 + this.seq++;
          const b = 7000000 + this.seq++;
          this.fd(p, this.socket(p.pid, 'unix', 'stream', 'ESTABLISHED', null, null, null, null, a, b), true);
          this.fd(p, this.socket(p.pid, 'unix', 'stream', 'ESTABLISHED', null, null, null, null, b, a), true);
          break;
        }
        case 8: {
          const f = w.addFile({ key: `${p.pid}:e${j}`, type: 'eventfd', path: 'anon_inode:[eventfd]', flags: 0o4002 });
          this.fd(p, f, true);
          break;
        }
        default: {
          if (j % 50 === 9) {
            // now and then a dup() of an inherited fd: one more fd on an open file of the service
            this.fd(p, p.inheritable[Math.floor(j / 50) % p.inheritable.length]![1], false);
          } else {
            this.fd(p, w.addFile({ key: `${p.pid}:t${j}`, type: 'timerfd', path: 'anon_inode:[timerfd]', flags: 0o4002 }), true);
          }
        }
      }
    }
    const n = this.countOf(p);
    if (n > this.busiest) {
      this.busiest = n;
      this.busiestPid = p.pid;
    }
  }

  private readonly perTable = new Map<number, number>();

  private countOf(p: Proc): number {
    return this.perTable.get(p.fdtable) ?? 0;
  }

  private fd(p: Proc, file: ObjectId, cloexec: boolean, fd = p.nextFd++): number {
    this.w.addFd({ fdtable: p.fdtable, fd, cloexec, file });
    this.perTable.set(p.fdtable, this.countOf(p) + 1);
    this.written++;
    return fd;
  }

  private pipe(name: string): { id: ObjectId; key: string } {
    const key = String(500000 + this.seq++);
    return { id: this.w.addSharedObject({ kind: 'pipe', key: `pipe:[${key}]`, attrs: { name } }), key };
  }

  private pipeBetween(parent: Proc, child: Proc): void {
    const pipe = this.pipe(`to-${child.pid}`);
    const w = this.w;
    this.fd(parent, w.addFile({ key: `${parent.pid}:to${child.pid}`, type: 'pipe', path: `pipe:[${pipe.key}]`, flags: 0o1, object: pipe.id }), true);
    this.fd(child, w.addFile({ key: `${child.pid}:from${parent.pid}`, type: 'pipe', path: `pipe:[${pipe.key}]`, flags: 0o0, object: pipe.id }), true);
  }

  private inode(pid: number): ObjectId {
    return this.w.addSharedObject({ kind: 'inode', key: `8:1:${900000 + pid}` });
  }

  private socket(pid: number, family: string, type: string, state: string, localAddr: string | null, localPort: number | null,
    remoteAddr: string | null, remotePort: number | null, ino = 7000000 + this.seq++, peerIno: number | null = null): ObjectId {
    const object = this.w.addSharedObject({ kind: 'socket', key: `socket:[${ino}]` });
    this.w.addSocket({ object, family, type, state, localAddr, localPort, remoteAddr, remotePort, peerIno });
    return this.w.addFile({ key: `${pid}:s${ino}`, type: 'socket', path: `socket:[${ino}]`, flags: 0o2, object });
  }
}
