/**
 * kcmp(2): whether two tasks share a kernel object (an open file, address space, fd
 * table, fs info, signal handlers), asked of the kernel itself through koffi. Besides
 * "equal" it returns an order of the objects, consistent for as long as they live, so
 * sharing among n references is found by sorting (n log n calls), not by comparing all
 * pairs.
 */
import koffi from 'koffi';
import { errnoName } from '../errno.js';

export const KCMP_FILE = 0;
export const KCMP_VM = 1;
export const KCMP_FILES = 2;
export const KCMP_FS = 3;
export const KCMP_SIGHAND = 4;
export type KcmpType = typeof KCMP_FILE | typeof KCMP_VM | typeof KCMP_FILES | typeof KCMP_FS | typeof KCMP_SIGHAND;

/** kcmp's syscall number per architecture (Node's process.arch names). */
const SYSCALL: Partial<Record<string, number>> = {
  x64: 312,
  arm64: 272,
  riscv64: 272,
  loong64: 272,
  ia32: 349,
  arm: 378,
  ppc64: 354,
  s390x: 343,
};


/** A kcmp call that failed: errno names the reason (ESRCH, EBADF, EPERM, ...). */
export class KcmpError extends Error {
  constructor(readonly errno: string) {
    super(`kcmp failed: ${errno}`);
  }

  /** The task exited or the fd was closed: the reference is gone, not the method. */
  get gone(): boolean {
    return this.errno === 'ESRCH' || this.errno === 'EBADF';
  }
}

export interface Kcmp {
  /** -1, 0 or 1 as the kernel orders the two objects; throws KcmpError. */
  compare(pid1: number, pid2: number, type: KcmpType, idx1?: number, idx2?: number): number;
  /** Whether this process may compare the task's objects (ptrace read access); throws KcmpError when it is gone. */
  permitted(pid: number): boolean;
  /** Calls made so far. */
  readonly calls: number;
}

export type KcmpAvailability = { available: true; kcmp: Kcmp } | { available: false; reason: string };

type Syscall = (nr: number, a: number, b: number, c: number, d: number, e: number) => number;

/**
 * Binds kcmp and checks that it answers for this process. It is unavailable on an
 * architecture without a known syscall number, on kernels built without it (ENOSYS),
 * or where a sandbox forbids it (EPERM on oneself).
 */
export function openKcmp(): KcmpAvailability {
  const nr = SYSCALL[process.arch];
  if (nr === undefined) return { available: false, reason: `no kcmp syscall number known for ${process.arch}` };
  let syscall: Syscall;
  try {
    // Declared with fixed arguments: glibc's and musl's syscall() read them as longs either way.
    syscall = koffi.load(null).func('long syscall(long, long, long, long, long, long)') as Syscall;
  } catch (e) {
    return { available: false, reason: `cannot bind syscall(): ${(e as Error).message}` };
  }
  let calls = 0;
  const call = (pid1: number, pid2: number, type: number, idx1: number, idx2: number): number => {
    calls++;
    const r = syscall(nr, pid1, pid2, type, idx1, idx2);
    if (r < 0) throw new KcmpError(errnoName(koffi.errno()));
    return r;
  };
  const kcmp: Kcmp = {
    compare(pid1, pid2, type, idx1 = 0, idx2 = 0) {
      const r = call(pid1, pid2, type, idx1, idx2);
      // 0 equal, 1 first is less, 2 first is greater, 3 unequal but unordered
      if (r === 0) return 0;
      if (r === 1) return -1;
      if (r === 2) return 1;
      throw new KcmpError('EUNORDERED');
    },
    permitted(pid) {
      try {
        call(pid, pid, KCMP_SIGHAND, 0, 0);
        return true;
      } catch (e) {
        if (e instanceof KcmpError && !e.gone) return false;
        throw e;
      }
    },
    get calls() {
      return calls;
    },
  };
  try {
    kcmp.compare(process.pid, process.pid, KCMP_VM);
  } catch (e) {
    return { available: false, reason: `kcmp is not usable here: ${(e as Error).message}` };
  }
  return { available: true, kcmp };
}
