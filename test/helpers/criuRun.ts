/**
 * Real CRIU for the checkpoint and restore tests: the binary named by CKPTDB_TEST_CRIU
 * (CI sets it to CRIU 4.2 in ../shared/tools), process trees in sessions of their own
 * writing to files (criu dumps no pipe to a process outside the tree), and cleanup that
 * kills them, restored or not, by process group.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import './tmp.js';
import { runCli, type CliResult } from './cli.js';

export const TEST_CRIU = process.env.CKPTDB_TEST_CRIU && existsSync(process.env.CKPTDB_TEST_CRIU) ? process.env.CKPTDB_TEST_CRIU : null;
export const NO_CRIU = TEST_CRIU ? '' : 'CKPTDB_TEST_CRIU names no CRIU 4.x binary (.ci/run sets it to ../shared/tools/criu-4.2/criu)';
export const isRoot = process.getuid?.() === 0;

const groups = new Set<number>();

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process runs: a zombie no one reaps (an orphan where PID 1 does not reap) has ended. */
export function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids a process has started that still have it as their parent. */
export function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills a tree (the group of its root, which a restore gives back) and waits until it is gone. */
export async function killTree(pgid: number): Promise<void> {
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  await until(() => !groupAlive(pgid), 5000);
}

afterEach(async () => {
  for (const pgid of [...groups]) {
    await killTree(pgid);
    groups.delete(pgid);
  }
});

export async function until(cond: () => boolean, ms: number, what = 'the condition', every = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Starts a command in a session of its own, stdin from /dev/null, stdout and stderr to
 * log; the tree is killed after the test. Returns the root pid (also its group).
 */
export function startTree(command: string, args: string[], log: string, cwd?: string): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], cwd });
    child.unref();
    groups.add(child.pid!);
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/** The built CLI on a store with CRIU from the test's configuration. */
export function ckptdb(db: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { db, env: { CKPTDB_CRIU: TEST_CRIU ?? '', ...env } });
}

/** `ckptdb checkpoint ...`, expected to succeed; the new id. */
export async function checkpointed(db: string, args: string[]): Promise<number> {
  const r = await ckptdb(db, ['checkpoint', ...args]);
  if (r.code !== 0) throw new Error(`ckptdb checkpoint ${args.join(' ')}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** `ckptdb restore ...`, expected to succeed; the restored root pid, whose tree is killed after the test. */
export async function restored(db: string, args: string[]): Promise<number> {
  const r = await ckptdb(db, ['restore', ...args]);
  if (r.code !== 0) throw new Error(`ckptdb restore ${args.join(' ')}: ${r.stderr}`);
  const pid = Number(r.stdout.trim());
  groups.add(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]));
  return pid;
}

/** The scratch directories of checkpoint and restore beside a store. */
export function scratchDirs(db: string): string[] {
  return readdirSync(dirname(db)).filter((n) => n.startsWith('.ckptdb-criu-')).map((n) => join(dirname(db), n));
}

/** Lines of a file, none if it is not there yet. */
export function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}
