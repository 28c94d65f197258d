/**
 * /proc/TID/stat and /proc/TID/status: who a task is and the cheap evidence about what
 * it shares.
 */
import { readRecord } from './procfs.js';

/** PF_KTHREAD in the flags field: a kernel thread has no address space of its own. */
const PF_KTHREAD = 0x00200000;

export interface TaskStat {
  tid: number;
  comm: string;
  /** R, S, D, T, t, Z, X, I, ... */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  kernelThread: boolean;
  startTime: number;
  /** The exit status as waitpid(2) reports it (field 52): a zombie's is what its parent has yet to collect. */
  exitCode: number;
  /**
   * The address-space layout (code, stack, data, brk, arguments, environment): tasks
   * that share an mm show the same values, so it buckets tasks before kcmp(KCMP_VM).
   * All zeros when the kernel hides them (no ptrace access).
   */
  mmLayout: string;
}

export function parseStat(text: string): TaskStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  // f[i] is field i + 3 of proc(5)
  return {
    tid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: f[0]!,
    ppid: Number(f[1]),
    pgid: Number(f[2]),
    sid: Number(f[3]),
    kernelThread: (Number(f[6]) & PF_KTHREAD) !== 0,
    startTime: Number(f[19]),
    exitCode: Number(f[49] ?? 0),
    mmLayout: `${f[23]}:${f[24]}:${f[25]}:${f[42]}:${f[43]}:${f[44]}:${f[45]}:${f[46]}:${f[47]}:${f[48]}`,
  };
}

export function readStat(tid: number): TaskStat {
  return parseStat(readRecord(`/proc/${tid}/stat`));
}

/** The parent of a process, from its stat: enough to walk a process tree. */
export function readParent(pid: number): number {
  const text = readRecord(`/proc/${pid}/stat`);
  const rest = text.slice(text.lastIndexOf(')') + 2);
  const a = rest.indexOf(' ');
  return Number(rest.slice(a + 1, rest.indexOf(' ', a + 1)));
}

export interface TaskStatus {
  tgid: number;
  uid: number[];
  gid: number[];
  sigPending: string | null;
  sharedPending: string | null;
  sigBlocked: string | null;
  sigIgnored: string | null;
  sigCaught: string | null;
  umask: string | null;
}

const WANTED = new Set(['Tgid', 'Uid', 'Gid', 'SigPnd', 'ShdPnd', 'SigBlk', 'SigIgn', 'SigCgt', 'Umask']);

export function parseStatus(text: string): TaskStatus {
  const v: Record<string, string> = {};
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = text.slice(start, colon);
      if (WANTED.has(key)) v[key] = text.slice(colon + 1, end).trim();
    }
    start = end + 1;
  }
  const ids = (s: string | undefined) => (s ? s.split(/\s+/).map(Number) : []);
  return {
    tgid: Number(v.Tgid),
    uid: ids(v.Uid),
    gid: ids(v.Gid),
    sigPending: v.SigPnd ?? null,
    sharedPending: v.ShdPnd ?? null,
    sigBlocked: v.SigBlk ?? null,
    sigIgnored: v.SigIgn ?? null,
    sigCaught: v.SigCgt ?? null,
    umask: v.Umask ?? null,
  };
}

export function readStatus(tid: number): TaskStatus {
  return parseStatus(readRecord(`/proc/${tid}/status`));
}
