/**
 * --freeze: hold the processes of a capture still so that what is read is one
 * consistent state, without leaving a trace in them or their parents, and let exactly
 * those that were held here run again on every way out: success, error, SIGINT,
 * SIGTERM, SIGHUP, process exit.
 *
 * How, in order of preference:
 *   - cgroup: the cgroup v2 freezer, where the processes have a cgroup to themselves;
 *     one write holds them all, one lets them go;
 *   - ptrace: as CRIU does it, PTRACE_SEIZE and PTRACE_INTERRUPT of every thread
 *     (src/capture/ptrace.ts): invisible to the tasks and their parents; should ckptdb
 *     be killed, the kernel detaches them and they run on;
 *   - SIGSTOP, only for a process that ptrace is refused for (another tracer holds it,
 *     a security module forbids it): the process is stopped as by Ctrl-Z, its parent
 *     is told, a job-control shell prints "Stopped". It is named in the checkpoint and
 *     warned about, and SIGKILL of ckptdb would leave it stopped.
 * Each task's state is read just before it is held, so the checkpoint stores the state
 * it was in, not the freezer's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CkptdbError } from '../errors.js';
import { cgroupFrozen, freezeCgroup, inCgroup, ownCgroup } from './cgroupFreezer.js';
import { numericEntries, ProcReadError, readText } from './proc/procfs.js';
import { parseStat } from './proc/stat.js';
import type { FreezeMethod } from './freezeMethods.js';
import { openPtrace, PtraceError, type Ptrace } from './ptrace.js';

export interface FreezeOptions {
  /** How long to wait for every thread to be held. Default 2000 ms. */
  settleMs?: number;
  /** Rounds of "hold, list again" before giving up on a tree that keeps growing. Default 50. */
  maxRounds?: number;
  signal?: AbortSignal;
  /**
   * auto (the default): the cgroup freezer where the processes have a cgroup to
   * themselves, else ptrace, with SIGSTOP for the processes ptrace is refused for.
   * A named method is used for every process, or the freeze fails.
   */
  method?: 'auto' | FreezeMethod;
}

export interface Frozen {
  /** The processes of the capture as listed once nothing new appeared. */
  processes: number[];
  /** Held here, released by thaw(). */
  stopped: number[];
  /** Stopped before the capture: left as they were. */
  alreadyStopped: number[];
  /** Still running when the wait ended (uninterruptible sleep, ...). */
  notStopped: number[];
  /** How the processes were held: the cgroup freezer, or ptrace (SIGSTOP when forced or for every process). */
  method: FreezeMethod;
  /** The cgroup frozen, with method cgroup. */
  cgroup: string | null;
  /** Processes stopped with SIGSTOP because ptrace was refused, and why. */
  sigstopped: { pid: number; reason: string }[];
  /** Each task's state letter (R, S, D, ...) as it was just before it was held. */
  statesBefore: ReadonlyMap<number, string>;
  /** Lets every held process run again. Safe to call more than once. */
  thaw(): void;
}

const STOPPED = new Set(['T', 't', 'Z', 'X']);
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

type ProcessState = 'running' | 'stopped' | 'skip';

function statOf(path: string): ReturnType<typeof parseStat> | null {
  try {
    return parseStat(readText(path));
  } catch (e) {
    if (e instanceof ProcReadError) return null;
    throw e;
  }
}

/** A process that is running can be held; kernel threads and zombies are left alone. */
function stateOf(pid: number): ProcessState {
  const st = statOf(`/proc/${pid}/stat`);
  if (!st || st.kernelThread || st.state === 'Z' || st.state === 'X') return 'skip';
  return STOPPED.has(st.state) ? 'stopped' : 'running';
}

function threadsOf(pid: number): number[] {
  try {
    return numericEntries(`/proc/${pid}/task`);
  } catch (e) {
    if (e instanceof ProcReadError) return [];
    throw e;
  }
}

/** Whether every thread of the process is stopped (or exited). */
function allThreadsStopped(pid: number): boolean {
  return threadsOf(pid).every((tid) => {
    const st = statOf(`/proc/${pid}/task/${tid}/stat`);
    return st === null || STOPPED.has(st.state);
  });
}

/** Sleeps without returning to the event loop: thaw() runs in exit handlers. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The processes held so far, by each method, and how to let them go. */
class Hold {
  readonly states = new Map<number, string>();
  /** Seized threads by process; a thread is waited on until its ptrace-stop is seen. */
  readonly seized = new Map<number, number[]>();
  readonly waiting = new Set<number>();
  readonly sigstopped: { pid: number; reason: string }[] = [];
  cgroup: { dir: string; path: string } | null = null;
  cgroupPids = new Set<number>();

  constructor(private readonly ptrace: Ptrace | null) {}

  get pids(): number[] {
    return [...this.cgroupPids, ...this.seized.keys(), ...this.sigstopped.map((s) => s.pid)];
  }

  /** Records the state of every thread of the process that has none recorded yet. */
  recordStates(pid: number): number[] {
    const tids = threadsOf(pid);
    for (const tid of tids) {
      if (this.states.has(tid)) continue;
      const st = statOf(`/proc/${pid}/task/${tid}/stat`);
      if (st) this.states.set(tid, st.state);
    }
    return tids;
  }

  /**
   * Seizes and interrupts every thread of the process not seized yet, listing them
   * again until no new one appears (a thread may clone before its interrupt takes
   * hold). Returns why not, or null.
   */
  seize(pid: number): string | null {
    const ptrace = this.ptrace!;
    const tids = this.seized.get(pid) ?? [];
    const listed = new Set(tids);
    for (let listing = 0; listing < 100; listing++) {
      const fresh = this.recordStates(pid).filter((t) => !listed.has(t));
      if (fresh.length === 0) break;
      for (const tid of fresh) {
        listed.add(tid);
        const state = this.states.get(tid);
        if (state === undefined || state === 'Z' || state === 'X') continue;
        try {
          ptrace.seize(tid);
        } catch (e) {
          if (!(e instanceof PtraceError)) throw e;
          if (e.errno === 'ESRCH') continue;
          this.detachAll(tids);
          return `${e.request}: ${e.errno}`;
        }
        tids.push(tid);
        this.waiting.add(tid);
        ptrace.interrupt(tid);
      }
    }
    this.seized.set(pid, tids);
    return null;
  }

  /** Threads that appeared in seized processes since they were listed; whether there were any. */
  seizeNewThreads(): boolean {
    const before = this.waiting.size;
    for (const pid of [...this.seized.keys()]) {
      const refused = this.seize(pid);
      if (refused === null) continue;
      // its threads were let go again: the process is held as ptrace cannot hold it
      this.seized.delete(pid);
      this.sigstop(pid, refused);
    }
    return this.waiting.size > before;
  }

  sigstop(pid: number, reason: string): void {
    this.recordStates(pid);
    try {
      process.kill(pid, 'SIGSTOP');
    } catch (e) {
      // exited meanwhile: nothing to hold
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw e;
    }
    this.sigstopped.push({ pid, reason });
  }

  /** One look at every seized thread not yet seen stopped; a signal that came first is delivered and the stop asked again. */
  poll(): void {
    for (const tid of this.waiting) {
      const r = this.ptrace!.poll(tid);
      if (r.kind === 'stopped' || r.kind === 'gone') this.waiting.delete(tid);
      else if (r.kind === 'signal') {
        try {
          this.ptrace!.deliver(tid, r.signal);
          this.ptrace!.interrupt(tid);
        } catch (e) {
          if (!(e instanceof PtraceError)) throw e;
          this.waiting.delete(tid);
        }
      }
    }
  }

  /** Processes not (yet) held still. */
  notHeld(): number[] {
    const out: number[] = [];
    for (const [pid, tids] of this.seized) if (tids.some((t) => this.waiting.has(t))) out.push(pid);
    for (const { pid } of this.sigstopped) if (!allThreadsStopped(pid)) out.push(pid);
    if (this.cgroup && !cgroupFrozen(this.cgroup.dir)) out.push(...this.cgroupPids);
    return out;
  }

  private detachAll(tids: number[]): void {
    for (const tid of tids) {
      this.waiting.delete(tid);
      this.detach(tid);
    }
  }

  /** A thread is detached once it is in its ptrace-stop: one still on its way there (in uninterruptible sleep) is waited for, up to 2 s. */
  private detach(tid: number): void {
    const ptrace = this.ptrace!;
    for (const deadline = performance.now() + 2000; ;) {
      try {
        ptrace.detach(tid);
        return;
      } catch (e) {
        if (!(e instanceof PtraceError)) throw e;
      }
      const r = ptrace.poll(tid);
      if (r.kind === 'gone' || performance.now() > deadline) return;
      if (r.kind === 'signal') ptrace.deliver(tid, r.signal);
      if (r.kind === 'none') sleepSync(1);
    }
  }

  release(): void {
    if (this.cgroup) {
      try {
        freezeCgroup(this.cgroup.dir, false);
      } catch {
        // the cgroup was removed: nothing is frozen in it any more
      }
    }
    for (const tids of this.seized.values()) this.detachAll(tids);
    for (const { pid } of this.sigstopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // exited while stopped: nothing to resume
      }
    }
  }
}

/**
 * Holds every process select() returns, lists again and holds the newcomers, until a
 * listing brings nothing new (a process may fork between being listed and held).
 */
export async function freezeProcesses(select: () => number[], opts: FreezeOptions = {}): Promise<Frozen> {
  const settleMs = opts.settleMs ?? 2000;
  const maxRounds = opts.maxRounds ?? 50;
  const method = opts.method ?? 'auto';
  const ptrace = method === 'auto' || method === 'ptrace' ? openPtrace() : null;
  if (method === 'ptrace' && !ptrace) throw new CkptdbError('UNSUPPORTED', 'cannot freeze with ptrace: the C library\'s ptrace() cannot be bound here');
  const hold = new Hold(ptrace);
  const alreadyStopped: number[] = [];
  const seen = new Set<number>();
  let thawed = false;

  const listeners = new Map<NodeJS.Signals, () => void>();
  const thaw = () => {
    if (thawed) return;
    thawed = true;
    hold.release();
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
    let processes = select();
    if (method === 'auto' || method === 'cgroup') {
      const running = processes.filter((p) => stateOf(p) === 'running');
      const own = running.length ? ownCgroup(processes) : { reason: 'no process is running' };
      if ('dir' in own) {
        for (const pid of running) hold.recordStates(pid);
        freezeCgroup(own.dir, true);
        hold.cgroup = own;
        for (const pid of running) hold.cgroupPids.add(pid);
      } else if (method === 'cgroup') {
        throw new CkptdbError('BAD_ARGUMENT', `cannot freeze with the cgroup freezer: ${own.reason}`, 'the processes of the capture must be alone in a cgroup v2 of their own; or leave --freeze-with out');
      }
    }
    for (let round = 0; round < maxRounds; round++) {
      opts.signal?.throwIfAborted();
      if (round > 0) processes = select();
      const fresh = processes.filter((p) => !seen.has(p));
      if (round > 0 && fresh.length === 0) break;
      for (const pid of fresh) {
        seen.add(pid);
        if (hold.cgroupPids.has(pid)) continue;
        const state = stateOf(pid);
        if (state === 'stopped') alreadyStopped.push(pid);
        if (state !== 'running') continue;
        if (hold.cgroup && inCgroup(pid, hold.cgroup.path)) {
          // forked after the freeze began: frozen with its cgroup
          hold.recordStates(pid);
          hold.cgroupPids.add(pid);
          continue;
        }
        const refused = ptrace ? hold.seize(pid) : method === 'sigstop' ? '--freeze-with sigstop' : 'ptrace() cannot be bound here';
        if (refused === null) continue;
        if (method !== 'auto' && method !== 'sigstop') throw new CkptdbError('PERMISSION', `cannot freeze process ${pid} with ptrace: ${refused}`, 'leave --freeze-with out to fall back to SIGSTOP');
        hold.sigstop(pid, refused);
      }
      await settle(hold, settleMs, opts.signal);
      if (ptrace && hold.seizeNewThreads()) await settle(hold, settleMs, opts.signal);
    }
    return {
      processes,
      stopped: hold.pids,
      alreadyStopped,
      notStopped: hold.notHeld(),
      method: hold.cgroup ? 'cgroup' : hold.seized.size === 0 && hold.sigstopped.length ? 'sigstop' : 'ptrace',
      cgroup: hold.cgroup?.dir ?? null,
      sigstopped: hold.sigstopped,
      statesBefore: hold.states,
      thaw,
    };
  } catch (e) {
    thaw();
    throw e;
  }
}

/** Waits until every held thread is still, or the time is up. */
async function settle(hold: Hold, ms: number, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    hold.poll();
    if (hold.notHeld().length === 0) return;
    await sleep(1);
    signal?.throwIfAborted();
  }
}
