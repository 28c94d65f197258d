/**
 * The parts of a task beyond stat and status: command line, executable and environment
 * (per process), working and root directory (per fs info). Each part that cannot be read
 * is left null, with the reason when access was denied.
 */
import type { RlimitInput } from '../../store/writer/types.js';
import { parseLimits } from './limits.js';
import { ProcReadError, readLink, readRecord, readText } from './procfs.js';

export interface PartsRead {
  /** part -> why it could not be read (permission). */
  unreadable: Record<string, string>;
  /** Some part was missing: either it does not exist for this task or the task exited. */
  sawGone: boolean;
}

function part<T>(name: string, into: PartsRead, read: () => T): T | null {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof ProcReadError)) throw e;
    if (e.failure === 'denied') into.unreadable[name] = e.reason;
    else into.sawGone = true;
    return null;
  }
}

/** NUL-separated strings, as cmdline and environ hold them; empty (kernel threads) is null. */
function nulList(text: string): string[] | null {
  if (text === '') return null;
  const list = text.split('\0');
  if (list.at(-1) === '') list.pop();
  return list;
}

export interface ProcessParts extends PartsRead {
  cmdline: string[] | null;
  exe: string | null;
  env: string[] | null;
  rlimits: RlimitInput[] | null;
}

export function readProcessParts(tid: number, want: { env: boolean; limits: boolean }): ProcessParts {
  const p: ProcessParts = { cmdline: null, exe: null, env: null, rlimits: null, unreadable: {}, sawGone: false };
  p.cmdline = part('cmdline', p, () => nulList(readText(`/proc/${tid}/cmdline`, 'utf8')));
  p.exe = part('exe', p, () => readLink(`/proc/${tid}/exe`));
  if (want.env) p.env = part('environ', p, () => nulList(readText(`/proc/${tid}/environ`, 'utf8')));
  if (want.limits) p.rlimits = part('limits', p, () => parseLimits(readRecord(`/proc/${tid}/limits`)));
  return p;
}

export interface FsParts extends PartsRead {
  cwd: string | null;
  root: string | null;
}

export function readFsParts(tid: number): FsParts {
  const p: FsParts = { cwd: null, root: null, unreadable: {}, sawGone: false };
  p.cwd = part('cwd', p, () => readLink(`/proc/${tid}/cwd`));
  p.root = part('root', p, () => readLink(`/proc/${tid}/root`));
  return p;
}
