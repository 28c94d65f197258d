import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

/** The uid and gid tests drop to with setpriv to capture as an unprivileged user. */
export const NOBODY = '65534';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the built CLI and the test fixtures need at run time. */
const RUNTIME = ['package.json', 'dist', 'migrations', 'sql', 'schema', 'node_modules', 'test/fixtures'];

/** Whether a user who is neither owner nor group member can reach path: every folder above it searchable, it readable. */
function reachableByOthers(path: string): boolean {
  if ((statSync(path).mode & 0o004) === 0) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

let staged: string | null = null;
afterAll(() => {
  if (staged) rmSync(staged, { recursive: true, force: true });
  staged = null;
});

/**
 * The project folder as nobody may read it. A clone under a private folder (a home such
 * as /root, a mkdtemp folder) is out of nobody's reach, so the built CLI and the fixtures
 * are then copied, once per test file, to a folder everyone may read.
 */
function rootForNobody(): string {
  if (reachableByOthers(join(ROOT, 'dist', 'cli', 'main.js')) && reachableByOthers(join(ROOT, 'test', 'fixtures', 'proc-tree.py'))) return ROOT;
  if (staged) return staged;
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-nobody-'));
  execFileSync('mkdir', ['-p', join(dir, 'test')]);
  for (const part of RUNTIME) execFileSync('cp', ['-r', join(ROOT, part), join(dir, part)]);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  staged = dir;
  return dir;
}

/** Runs the built CLI through setpriv with its arguments (e.g. --reuid NOBODY --regid NOBODY); for runCli's `command`. */
export function cliAs(setpriv: string[]): string[] {
  if (!reachableByOthers(process.execPath)) throw new Error(`${process.execPath} is out of reach of other users: node must be installed where nobody can run it`);
  return ['setpriv', ...setpriv, '--clear-groups', process.execPath, join(rootForNobody(), 'dist', 'cli', 'main.js')];
}

/** The test fixtures as nobody may run them; for startFixture's `fixtures`. */
export function fixturesForNobody(): string {
  return join(rootForNobody(), 'test', 'fixtures') + '/';
}
