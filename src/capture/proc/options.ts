/** What a capture of live processes takes, and what it reports. */
import type { WriterCounts } from '../../store/writer/types.js';
import type { FreezeMethod } from '../freezeMethods.js';
import { CkptdbError } from '../../errors.js';
import type { ProcessSelection } from './processes.js';
import type { CaptureWarnings } from './warnings.js';

/** Parts a capture can leave out. */
export type CapturePart = 'fds' | 'maps' | 'sockets' | 'namespaces' | 'limits' | 'env' | 'threads';
export const CAPTURE_PARTS: readonly CapturePart[] = ['fds', 'maps', 'sockets', 'namespaces', 'limits', 'env', 'threads'];

export interface CaptureProgress {
  phase: 'tasks' | 'tables' | 'details' | 'fds';
  done: number;
  total: number;
}

export interface CaptureOptions extends ProcessSelection {
  /** Hold the processes still for the capture and let them run after (src/capture/freeze.ts). */
  freeze?: boolean;
  /** How to hold them: auto (default) is the cgroup freezer or ptrace, SIGSTOP only where ptrace is refused. */
  freezeMethod?: 'auto' | FreezeMethod;
  label?: string | null;
  /** Record environments. Off by default: they often hold secrets. */
  withEnv?: boolean;
  /** Parts to leave out. */
  skip?: readonly CapturePart[];
  /** Aborting ends the capture: nothing is written, frozen processes resume. */
  signal?: AbortSignal;
  onProgress?: (p: CaptureProgress) => void;
}

export interface CaptureResult {
  checkpointId: number;
  counts: WriterCounts & { processes: number };
  warnings: CaptureWarnings;
  /** Whether every process was held stopped while it was read. */
  frozen: boolean;
  /** With --freeze: how many processes were held here, and for how long. */
  stopped: number;
  frozenMs: number;
  /** With --freeze: how they were held, and the processes stopped with SIGSTOP (with why). */
  freezeMethod: FreezeMethod | null;
  sigstopped: { pid: number; reason: string }[];
  /** null when kcmp was used; otherwise why sharing had to be inferred. */
  kcmpUnavailable: string | null;
  kcmpCalls: number;
  seconds: number;
  peakRss: number;
}

/** `--skip maps,sockets` as parts, refusing names that are not parts. */
export function parseParts(values: readonly string[]): CapturePart[] {
  const parts: CapturePart[] = [];
  for (const v of values.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    if (!(CAPTURE_PARTS as readonly string[]).includes(v)) {
      throw new CkptdbError('BAD_ARGUMENT', `--skip ${v}: not a part of a capture`, `parts: ${CAPTURE_PARTS.join(', ')}`);
    }
    parts.push(v as CapturePart);
  }
  return parts;
}
