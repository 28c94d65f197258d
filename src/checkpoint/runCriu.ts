/**
 * Running criu itself. It runs in a process group of its own, so that a Ctrl-C on the
 * terminal reaches ckptdb and not criu: a criu killed half-way through a dump can leave
 * the processes stopped with its parasite code inside them. ckptdb lets it finish, then
 * gives up.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CkptdbError } from '../errors.js';

export interface CriuRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs criu to its end; onStart gets its pid. */
export function runCriu(bin: string, args: string[], onStart: (pid: number) => void = () => {}): Promise<CriuRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on('error', (e) => reject(new CkptdbError('CRIU_FAILED', `cannot run ${bin}: ${e.message}`)));
    child.on('spawn', () => onStart(child.pid!));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** CRIU logs this on every run where it may not raise its own limit; it says nothing about the run. */
const HARMLESS = /rlimit: Can't setup RLIMIT_NOFILE for self/;

/** The first line of a CRIU log that reports an error, without CRIU's source location. */
export function firstError(logPath: string, stderr = ''): string | null {
  let text = stderr;
  try {
    text = readFileSync(logPath, 'utf8') + '\n' + stderr;
  } catch {
    // no log: criu failed before it opened one, and said why on stderr
  }
  for (const line of text.split('\n')) {
    // "(00.012345) Error (file.c:12): ...", with the pid of the task it concerns after the time on restore
    const m = /^(?:\([\d. ]+\)\s*)?(?:\d+:\s*)?Error\s*(?:\([^)]*\))?:?\s*(.*)$/.exec(line.trim());
    if (m && !HARMLESS.test(line)) return m[1]!.trim();
  }
  const last = text.trim().split('\n').filter((l) => l.trim()).at(-1);
  return last ? last.trim() : null;
}

/**
 * Copies a failed run's log out of the scratch directory, which is about to go, into
 * criu-logs/ beside the store; returns where it is now.
 */
export function keepLog(logPath: string, storePath: string, what: string): string | null {
  if (!existsSync(logPath)) return null;
  const dir = resolve(dirname(storePath), 'criu-logs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const kept = join(dir, `${what}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
  copyFileSync(logPath, kept);
  return kept;
}

export function describeExit(run: CriuRun): string {
  return run.signal ? `was killed by ${run.signal}` : `exited with status ${run.code}`;
}
