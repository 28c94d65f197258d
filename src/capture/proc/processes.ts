/**
 * Which processes a capture takes: the PIDs named, with --tree their descendants, with
 * --all every process. Never the capturing process itself, so a capture does not
 * record (or, with --freeze, stop) the program doing the capturing; with
 * excludeOwnTree (the CLI's choice) nor anything it started either. A library caller
 * may well want to capture the children it started, so by default they are taken.
 */
import { CkptdbError } from '../../errors.js';
import { numericEntries, ProcReadError, readRecord } from './procfs.js';
import { readParent } from './stat.js';

export interface ProcessSelection {
  /** Processes to capture, with all their threads. A thread id stands for its process. */
  pids?: number[];
  /** Add every descendant of the PIDs. */
  tree?: boolean;
  /** Every process on the machine. */
  all?: boolean;
  /** Leave out every descendant of the capturing process too. */
  excludeOwnTree?: boolean;
}

/**
 * Checks a selection before anything is written: the PIDs exist and are not ckptdb.
 * Returns the process ids (thread ids mapped to their process) in the order given.
 */
export function checkSelection(sel: ProcessSelection, self = process.pid): number[] {
  const pids = sel.pids ?? [];
  if (sel.all && pids.length) throw new CkptdbError('BAD_ARGUMENT', `--all captures every process: give no PID with it (got ${pids.join(' ')})`);
  if (!sel.all && pids.length === 0) throw new CkptdbError('BAD_ARGUMENT', 'no process to capture', 'name one or more PIDs, or use --all');
  const roots: number[] = [];
  for (const pid of pids) {
    if (!Number.isSafeInteger(pid) || pid < 1) throw new CkptdbError('BAD_ARGUMENT', `PID ${String(pid)} is not a positive integer`);
    const tgid = processOf(pid);
    if (tgid === null) throw new CkptdbError('NO_SUCH_PROCESS', `no process ${pid}`, 'it may have exited; `ps` lists the running ones');
    if (tgid === self) throw new CkptdbError('BAD_ARGUMENT', `PID ${pid} is this ckptdb process itself`);
    if (!roots.includes(tgid)) roots.push(tgid);
  }
  return roots;
}

/** The process a pid or thread id belongs to, or null when there is none. */
function processOf(pid: number): number | null {
  try {
    const status = readRecord(`/proc/${pid}/status`);
    const m = /^Tgid:\s*(\d+)/m.exec(status);
    return m ? Number(m[1]) : pid;
  } catch (e) {
    if (e instanceof ProcReadError && e.failure === 'gone') return null;
    throw e;
  }
}

/** Every process now, with its parent. Processes that exit while listed are left out. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const pid of numericEntries('/proc')) {
    try {
      map.set(pid, readParent(pid));
    } catch (e) {
      if (!(e instanceof ProcReadError)) throw e;
    }
  }
  return map;
}

function childrenOf(parentOf: Map<number, number>): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  return children;
}

function subtree(roots: number[], children: Map<number, number[]>): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return seen;
}

/**
 * The processes of a selection as the system is now, sorted by pid. Roots that have
 * exited since checkSelection are left out; the caller counts them as vanished.
 */
export function selectProcesses(sel: ProcessSelection, roots: number[], self = process.pid): number[] {
  if (!sel.tree && !sel.all) return roots.filter((pid) => pid !== self).sort((a, b) => a - b);
  const parentOf = parents();
  const children = childrenOf(parentOf);
  const left = sel.excludeOwnTree ? subtree([self], children) : new Set([self]);
  const taken = sel.all ? parentOf.keys() : subtree(roots.filter((p) => parentOf.has(p)), children);
  return [...taken].filter((p) => !left.has(p)).sort((a, b) => a - b);
}
