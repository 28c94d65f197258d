/**
 * --freeze: stop the processes of a capture with SIGSTOP so that what is read is one
 * consistent state, and resume exactly those that were stopped here (never one that
 * was already stopped before) on every way out: success, error, SIGINT, SIGTERM,
 * SIGHUP, process exit. Only SIGKILL of ckptdb itself can leave them stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { numericEntries, ProcReadError, readText } from './proc/procfs.js';
import { parseStat } from './proc/stat.js';

export interface FreezeOptions {
  /** How long to wait for every thread to reach the stopped state. Default 2000 ms. */
  settleMs?: number;
  /** Rounds of "stop, list again" before giving up on a tree that keeps growing. Default 50. */
  maxRounds?: number;
  signal?: AbortSignal;
}

export interface Frozen {
  /** The processes of the capture as listed once nothing new appeared. */
  processes: number[];
  /** Stopped here, resumed by thaw(). */
  stopped: number[];
  /** Stopped before the capture: left as they were. */
  alreadyStopped: number[];
  /** Still running when the wait ended (uninterruptible sleep, ...). */
  notStopped: number[];
  /** Resumes every process stopped here. Safe to call more than once. */
  thaw(): void;
}

const STOPPED = new Set(['T', 't', 'Z', 'X']);
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

type ProcessState = 'running' | 'stopped' | 'skip';

/** A process that is running can be stopped; kernel threads and zombies are left alone. */
function stateOf(pid: number): ProcessState {
  try {
    const st = parseStat(readText(`/proc/${pid}/stat`));
    if (st.kernelThread || st.state === 'Z' || st.state === 'X') return 'skip';
    return STOPPED.has(st.state) ? 'stopped' : 'running';
  } catch (e) {
    if (e instanceof ProcReadError) return 'skip';
    throw e;
  }
}

/** Whether every thread of the process is stopped (or exited). */
function allThreadsStopped(pid: number): boolean {
  try {
    for (const tid of numericEntries(`/proc/${pid}/task`)) {
      const text = attemptText(`/proc/${pid}/task/${tid}/stat`);
      if (text !== null && !STOPPED.has(parseStat(text).state)) return false;
    }
    return true;
  } catch (e) {
    if (e instanceof ProcReadError) return true;
    throw e;
  }
}

function attemptText(path: string): string | null {
  try {
    return readText(path);
  } catch (e) {
    if (e instanceof ProcReadError) return null;
    throw e;
  }
}

/**
 * Stops every process select() returns, lists again and stops the newcomers, until a
 * listing brings nothing new (a process may fork between being listed and stopped).
 */
export async function freezeProcesses(select: () => number[], opts: FreezeOptions = {}): Promise<Frozen> {
  const settleMs = opts.settleMs ?? 2000;
  const maxRounds = opts.maxRounds ?? 50;
  const stopped = new Set<number>();
  const alreadyStopped: number[] = [];
  const seen = new Set<number>();
  let thawed = false;

  const listeners = new Map<NodeJS.Signals, () => void>();
  const thaw = () => {
    if (thawed) return;
    thawed = true;
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // exited while stopped: nothing to resume
      }
    }
    process.off('exit', thaw);
    for (const [sig, fn] of listeners) process.off(sig, fn);
  };
  process.on('exit', thaw);
  for (const sig of SIGNALS) {
    const fn = () => {
      thaw();
      // with nobody else listening, the signal does what it would have done
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    listeners.set(sig, fn);
    process.on(sig, fn);
  }

  try {
    let processes: number[] = [];
    for (let round = 0; round < maxRounds; round++) {
      opts.signal?.throwIfAborted();
      processes = select();
      const fresh = processes.filter((p) => !seen.has(p));
      if (round > 0 && fresh.length === 0) break;
      for (const pid of fresh) {
        seen.add(pid);
        const state = stateOf(pid);
        if (state === 'stopped') alreadyStopped.push(pid);
        if (state !== 'running') continue;
        try {
          process.kill(pid, 'SIGSTOP');
          stopped.add(pid);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
        }
      }
      await settle([...stopped], settleMs, opts.signal);
    }
    const notStopped = [...stopped].filter((pid) => !allThreadsStopped(pid));
    return { processes, stopped: [...stopped], alreadyStopped, notStopped, thaw };
  } catch (e) {
    thaw();
    throw e;
  }
}

/** Waits until every thread of the processes has stopped, or the time is up. */
async function settle(pids: number[], ms: number, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + ms;
  let waiting = pids;
  while (waiting.length && performance.now() < deadline) {
    waiting = waiting.filter((pid) => !allThreadsStopped(pid));
    if (waiting.length) await sleep(1);
    signal?.throwIfAborted();
  }
}
