import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI as a user would, as its own process; `command` runs it through
 * a wrapper (e.g. setpriv ... node CLI).
 */
export function runCli(args: string[], opts: { db?: string; env?: NodeJS.ProcessEnv; input?: string; command?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CKPTDB_DEBUG: '', ...opts.env };
    if (opts.db) env.CKPTDB_DB = opts.db;
    const [command, ...prefix] = opts.command ?? [process.execPath, CLI];
    const child = spawn(command!, [...prefix, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
