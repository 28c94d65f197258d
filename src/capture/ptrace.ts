/**
 * The few ptrace(2) requests a freeze needs, through koffi, as CRIU's compel uses them:
 * PTRACE_SEIZE attaches without stopping or signalling the task, PTRACE_INTERRUPT stops
 * it in a ptrace-stop (state t) that neither the task nor its parent can observe, and
 * PTRACE_DETACH lets it run on. A ptrace-stop is reported to the tracer alone: the
 * parent's waitpid(WUNTRACED) sees nothing and no SIGCHLD reaches it, so a job-control
 * shell prints no "Stopped". Every request comes from the thread that seized the task
 * (Node's main thread), as ptrace requires. Should ckptdb die, the kernel detaches its
 * tracees and they run on.
 */
import koffi from 'koffi';
import { errnoName } from '../errno.js';

const PTRACE_CONT = 7;
const PTRACE_DETACH = 17;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const PTRACE_EVENT_STOP = 128;
const WNOHANG = 1;
const WALL = 0x40000000;


export class PtraceError extends Error {
  constructor(readonly request: string, readonly errno: string) {
    super(`${request}: ${errno}`);
  }
}

/** What waiting on a seized task found. */
export type TraceStop =
  | { kind: 'none' }
  | { kind: 'stopped' }
  /** A signal arrived before the interrupt took hold: it must be delivered, then the task stops. */
  | { kind: 'signal'; signal: number }
  | { kind: 'gone' };

export interface Ptrace {
  seize(tid: number): void;
  interrupt(tid: number): void;
  /** Resumes a task in a signal-delivery-stop, delivering the signal. */
  deliver(tid: number, signal: number): void;
  detach(tid: number): void;
  /** A non-blocking wait for one seized task. */
  poll(tid: number): TraceStop;
}

type Variadic = (...args: unknown[]) => number;

let bound: Ptrace | null | undefined;

/** ptrace bound through koffi, or null where the C library cannot be loaded. */
export function openPtrace(): Ptrace | null {
  if (bound !== undefined) return bound;
  try {
    const libc = koffi.load(null);
    const ptrace = libc.func('long ptrace(int request, ...)') as Variadic;
    const waitpid = libc.func('int waitpid(int pid, _Out_ int *status, int options)') as (pid: number, status: number[], options: number) => number;
    const request = (name: string, req: number, tid: number, data: number) => {
      if (ptrace(req, 'int', tid, 'long', 0, 'long', data) < 0) throw new PtraceError(name, errnoName(koffi.errno()));
    };
    bound = {
      seize: (tid) => request('PTRACE_SEIZE', PTRACE_SEIZE, tid, 0),
      interrupt: (tid) => request('PTRACE_INTERRUPT', PTRACE_INTERRUPT, tid, 0),
      deliver: (tid, signal) => request('PTRACE_CONT', PTRACE_CONT, tid, signal),
      detach: (tid) => request('PTRACE_DETACH', PTRACE_DETACH, tid, 0),
      poll(tid) {
        const status = [0];
        const r = waitpid(tid, status, WNOHANG | WALL);
        if (r === 0) return { kind: 'none' };
        if (r < 0) return { kind: 'gone' };
        const s = status[0]!;
        if ((s & 0xff) !== 0x7f) return { kind: 'gone' }; // exited or killed
        const signal = (s >> 8) & 0xff;
        return s >> 16 === PTRACE_EVENT_STOP ? { kind: 'stopped' } : { kind: 'signal', signal };
      },
    };
  } catch {
    bound = null;
  }
  return bound;
}
