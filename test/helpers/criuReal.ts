/**
 * Real CRIU dumps made by the tests: a process tree started the way `criu dump` needs
 * it (its own session, stdin from /dev/null, stdout to a file, no terminal), what /proc
 * says of it just before the dump, `criu dump --leave-running`, and after the tree is
 * killed, `criu restore -d`. afterAll kills whatever a test file started and restored.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import koffi from 'koffi';
import { afterAll } from 'vitest';
import { CRIU } from './criuTools.js';
import { waitFor } from './processes.js';

const run = promisify(execFile);

/**
 * The test process becomes a child subreaper: the processes of a tree whose root dies
 * (and a tree restored with criu restore -d) are reparented to it rather than to pid 1,
 * which may never reap them, and it reaps exactly the pids it waits for, so that they
 * leave /proc and a restore may take them again.
 */
const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)');
const waitpid = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

function reap(pids: number[]): void {
  for (const pid of pids) waitpid(pid, [0], WNOHANG);
}

/** Process groups and pids to kill after the test file. */
const started: number[] = [];
afterAll(async () => {
  const pids = started.splice(0);
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  await waitGone(pids);
});

/** Waits until none of the pids is in /proc any more (a restore needs them free). */
export async function waitGone(pids: number[], ms = 10_000): Promise<void> {
  await waitFor(() => {
    reap(pids);
    return pids.every((p) => !existsSync(`/proc/${p}`));
  }, ms, `pids ${pids.join(' ')} to be gone`);
}

/** Kills every process of the tree (its pids, given) and waits until they are gone; zombies go with their parent. */
export async function killTree(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // a zombie or gone already
    }
  }
  await waitGone(pids);
}

export interface Tree<T> {
  /** The root of the tree, as the fixture says in ready.json. */
  pid: number;
  info: T;
  work: string;
}

/**
 * Starts `command` as the root of a new session, with stdin from /dev/null and
 * stdout and stderr to WORK/out.txt, and waits for WORK/ready.json.
 */
export async function startTree<T>(command: string[], work: string, ms = 20_000): Promise<Tree<T>> {
  const out = openSync(join(work, 'out.txt'), 'a');
  // detached: a session of its own (setsid), as criu dump wants the tree
  const child = spawn(command[0]!, command.slice(1), { cwd: work, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  started.push(child.pid!);
  child.unref();
  const ready = join(work, 'ready.json');
  try {
    await waitFor(() => existsSync(ready), ms, `${command.join(' ')} to be ready`);
  } catch (e) {
    throw new Error(`${(e as Error).message}; its output: ${readFileSync(join(work, 'out.txt'), 'utf8')}`);
  }
  const info = JSON.parse(readFileSync(ready, 'utf8')) as T & { pid: number };
  started.push(info.pid);
  // what wrote ready.json (mv) ends a moment after it appears: read the tree once it
  // has stayed the same for 100 ms
  let last = '';
  let since = Date.now();
  await waitFor(() => {
    const now = treePids(info.pid).join(' ');
    if (now !== last) [last, since] = [now, Date.now()];
    return Date.now() - since >= 100;
  }, ms, `the tree of ${command.join(' ')} to settle`);
  return { pid: info.pid, info, work };
}

/** Every pid of the tree rooted at pid (processes, not threads), parents first. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of (children.get(p) ?? []).sort((a, b) => a - b)) walk(c);
  };
  walk(root);
  return out;
}

function criu(): string {
  if (!CRIU.path) throw new Error(CRIU.missing!);
  return CRIU.path;
}

async function runCriu(args: string[], dir: string, log: string): Promise<void> {
  try {
    await run(criu(), [...args, '-D', dir, '-o', log, '-v4'], { timeout: 60_000 });
  } catch (e) {
    const text = existsSync(join(dir, log)) ? readFileSync(join(dir, log), 'utf8') : '';
    const errors = text.split('\n').filter((l) => /Error|Warn/.test(l)).slice(-15).join('\n');
    throw new Error(`criu ${args[0]} failed: ${(e as Error).message}\n${errors}`);
  }
}

/** `criu dump --leave-running` of the tree at pid into dir, with CRIU's log in dump.log; returns how long it took. */
export async function dump(pid: number, dir: string, extra: string[] = []): Promise<number> {
  const t = performance.now();
  await runCriu(['dump', '-t', String(pid), '--leave-running', ...extra], dir, 'dump.log');
  return performance.now() - t;
}

/** `criu restore -d` from dir, with CRIU's log in restore.log; the restored tree is killed after the test. */
export async function restore(dir: string, pids: number[], extra: string[] = []): Promise<void> {
  started.push(...pids);
  await runCriu(['restore', '-d', ...extra], dir, 'restore.log');
}

// ---- the truth, from /proc, read independently of ckptdb's own capture

export interface ProcTask {
  pid: number;
  tgid: number;
  ppid: number;
  pgid: number;
  sid: number;
  state: string;
  comm: string;
  /** stat's field 52: the exit status a zombie's parent has yet to collect. */
  exitCode: number;
  uid: number[];
  gid: number[];
  sig: { pending: string; shared: string; blocked: string; ignored: string; caught: string };
  umask: string | null;
  cmdline: string[] | null;
  env: string[] | null;
  exe: string | null;
  cwd: string | null;
  root: string | null;
}

export interface ProcFd {
  pid: number;
  fd: number;
  /** What readlink shows, ' (deleted)' cut off. */
  path: string;
  deleted: boolean;
  pos: number;
  /** fdinfo's flags, O_CLOEXEC apart. */
  flags: number;
  cloexec: boolean;
  mode: number | null;
  /** 'major:minor' and inode number of what it is open on, by stat(2). */
  dev: string | null;
  ino: number | null;
  rdev: string | null;
  extra: string[];
}

export interface ProcMap {
  pid: number;
  start: string;
  end: string;
  perms: string;
  pgoff: number;
  dev: string;
  inode: number;
  path: string | null;
  deleted: boolean;
}

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function tryLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

function nul(text: string | null): string[] | null {
  if (!text) return null;
  const parts = text.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

export function procTasks(pids: number[]): ProcTask[] {
  const out: ProcTask[] = [];
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b)) {
      const base = `/proc/${pid}/task/${tid}`;
      const stat = readFileSync(`${base}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = Object.fromEntries(
        readFileSync(`${base}/status`, 'utf8').split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
      );
      out.push({
        pid: tid, tgid: Number(status.Tgid), ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), state: f[0]!,
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), exitCode: Number(f[49]),
        uid: String(status.Uid).split(/\s+/).map(Number), gid: String(status.Gid).split(/\s+/).map(Number),
        sig: { pending: status.SigPnd!, shared: status.ShdPnd!, blocked: status.SigBlk!, ignored: status.SigIgn!, caught: status.SigCgt! },
        umask: status.Umask ?? null,
        cmdline: nul(tryRead(`/proc/${pid}/cmdline`)), env: nul(tryRead(`/proc/${pid}/environ`)),
        exe: tryLink(`/proc/${pid}/exe`), cwd: tryLink(`${base}/cwd`), root: tryLink(`${base}/root`),
      });
    }
  }
  return out;
}

export function procFds(pids: number[]): ProcFd[] {
  const out: ProcFd[] = [];
  for (const pid of pids) {
    let fds: number[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').trimEnd().split('\n');
      const field = (k: string) => info.find((l) => l.startsWith(`${k}:`))!.slice(k.length + 1).trim();
      const flags = parseInt(field('flags'), 8);
      let st: ReturnType<typeof statSync> | null = null;
      try {
        st = statSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        // an fd whose target cannot be stat'ed through its link
      }
      const deleted = link.endsWith(' (deleted)');
      out.push({
        pid, fd, path: deleted ? link.slice(0, -10) : link, deleted, pos: Number(field('pos')),
        flags: flags & ~0o2000000, cloexec: (flags & 0o2000000) !== 0, mode: st ? Number(st.mode) : null,
        dev: st ? devText(Number(st.dev)) : null, ino: st ? Number(st.ino) : null, rdev: st && st.rdev ? devText(Number(st.rdev)) : null,
        extra: info.filter((l) => !/^(pos|flags|mnt_id|ino):/.test(l)),
      });
    }
  }
  return out;
}

function devText(dev: number): string {
  return `${(dev >>> 8) & 0xfff}:${(dev & 0xff) | ((dev >>> 12) & 0xfff00)}`;
}

export function procMaps(pid: number): ProcMap[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').trimEnd().split('\n').map((line) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/.exec(line)!;
    const raw = m[8] || null;
    const deleted = raw?.endsWith(' (deleted)') ?? false;
    return {
      pid, start: m[1]!.padStart(16, '0'), end: m[2]!.padStart(16, '0'), perms: m[3]!, pgoff: parseInt(m[4]!, 16),
      dev: `${parseInt(m[5]!, 16)}:${parseInt(m[6]!, 16)}`, inode: Number(m[7]), path: deleted ? raw!.slice(0, -10) : raw, deleted,
    };
  });
}
