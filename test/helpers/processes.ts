import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, fstatSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
// imported first so that its cleanup is registered first and, hooks running as a
// stack, runs after the processes writing into its directories are dead
import './tmp.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const groups: ChildProcess[] = [];
afterEach(async () => {
  for (const child of groups.splice(0)) await killGroup(child);
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends a fixture and everything it started (its own process group, stopped or not) and waits until they are gone. */
export async function killGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid!;
  if (!groupAlive(pgid)) return;
  process.kill(-pgid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

export interface Fixture<T> {
  child: ChildProcess;
  /** The first line the fixture printed, parsed as JSON. */
  info: T;
}

/**
 * Starts a fixture script (python3) in a process group of its own and waits for its
 * first stdout line; afterEach kills the group. stdin stays open so that the fixture
 * can wait on it.
 */
export function startFixture<T>(script: string, args: string[] = [], opts: { command?: string[]; fixtures?: string } = {}): Promise<Fixture<T>> {
  const command = opts.command ?? ['python3'];
  const child = spawn(command[0]!, [...command.slice(1), (opts.fixtures ?? FIXTURES) + script, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  groups.push(child);
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`${script} exited (${code ?? signal}) before it was ready`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) resolve({ child, info: JSON.parse(buffer.slice(0, nl)) as T });
    });
  });
}

/** A task's state letter from /proc (R, S, T, ...), or null once it is gone. */
export function taskState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Waits until check() holds, polling; fails after ms. */
export async function waitFor(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What test/fixtures/proc-tree.py reports of the tree it built (its docstring describes the shape). */
export interface ProcTree {
  parent: number;
  /** The parent's parent: whoever started the fixture. */
  ppid: number;
  /** The comm of every process of the tree. */
  comm: string;
  c1: number;
  c2: number;
  c3: number;
  g: number;
  /** C2's threads. */
  threads: number[];
  /** C3's thread with an fd table of its own. */
  t: number;
  /** The process C3 cloned to share its address space and fd table. */
  v: number;
  /** fd numbers: of C1's second open of data, of C1's TCP client, of T's own file. */
  reopen: number;
  client: number;
  own: number;
  port: number;
  client_port: number;
  udp_port: number;
  dir: string;
  /** The command line of every process of the tree. */
  argv: string[];
  /** P's fds (accepted, fifo and udp P alone holds). */
  fds: Record<
    'data' | 'dup' | 'private' | 'deleted' | 'pipe_r' | 'pipe_w' | 'sock_a' | 'sock_b' | 'listen' | 'eventfd' | 'epoll' | 'memfd' | 'accepted' | 'fifo' | 'udp',
    number
  >;
  /**
   * Inode numbers of the pipe and the sockets (stdout: fd 1, a socket of the socketpair
   * node made for it; stdout_peer: this process's end of that pair, which the helper
   * starting the tree adds).
   */
  inodes: Record<'pipe_r' | 'sock_a' | 'sock_b' | 'listen' | 'accepted' | 'udp' | 'stdout' | 'client' | 'stdout_peer', number>;
  /** 'major:minor:inode' of the files. */
  files: Record<'data' | 'private' | 'stderr' | 'own' | 'fifo' | 'deleted' | 'memfd' | 'null', string>;
  /** /proc/self/ns of the parent: type -> link ('net:[4026531840]'). */
  namespaces: Record<string, string>;
  /** With `extra`: the shapes proc-tree.py --extra adds. */
  extra?: ProcTreeExtra;
}

export interface ProcTreeExtra {
  /** P's extra fds. */
  fds: Record<'dir' | 'odd' | 'nonblock' | 'high' | 'dgram' | 'inotify' | 'signalfd' | 'timerfd', number>;
  /** The child in namespaces of its own. */
  n: number;
  /** N's child that exited and was never reaped. */
  z: number;
  /** N's child that stopped itself. */
  s: number;
  /** N's clone sharing its fd table and fs info, not its address space; null off x86-64. */
  k: number | null;
  /** N's soft core limit, above 2^63, in decimal; null where the hard limit did not allow it. */
  core: string | null;
  /** N's thread named "odd) name". */
  odd_thread: number;
  /** N's thread with an fd table (a copy of N's) and fs info of its own, and own_fd open in that table. */
  own_thread: number;
  own_fd: number;
  /** A process whose main thread exited alone (a zombie leader), and its thread still running; null off x86-64. */
  l: number | null;
  l_thread: number | null;
}

/** Starts test/fixtures/proc-tree.py, keeping its files in dir; args go on its command line; `extra` adds the shapes of its --extra. */
export async function startProcTree(dir: string, opts: { command?: string[]; fixtures?: string; args?: string[]; extra?: boolean } = {}): Promise<ProcTree> {
  const { child, info } = await startFixture<ProcTree>('proc-tree.py', [dir, ...(opts.extra ? ['--extra'] : []), ...(opts.args ?? [])], opts);
  info.inodes.stdout_peer = stdoutPeerInode(child);
  return info;
}

/** The inode of this process's end of the socketpair node made for the child's stdout: its fd 1's peer. */
export function stdoutPeerInode(child: ChildProcess): number {
  // node's stream over that end holds its fd; there is no public way to it
  const fd = (child.stdout as unknown as { _handle: { fd: number } })._handle.fd;
  return fstatSync(fd).ino;
}

/** A pid that is free now. */
export function unusedPid(): number {
  for (let pid = 4_000_000; pid > 1000; pid -= 7919) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}
