/**
 * Which CRIU runs: --criu, then $CKPTDB_CRIU, then `criu` on PATH; and whether it is
 * one ckptdb can use (4.0 or newer: 3.x writes page maps ckptdb reads wrongly and
 * cannot dump on current kernels). Asked before anything else runs.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CkptdbError } from '../errors.js';

export interface CriuBinary {
  path: string;
  version: string;
}

const MIN_MAJOR = 4;
const HOW_TO_GET =
  "install CRIU 4.0 or newer (a distribution's criu package of that version, or one built from CRIU's sources) and name it with --criu PATH or CKPTDB_CRIU";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'criu'))) return join(dir, 'criu');
  }
  return null;
}

/** The CRIU to run, checked; throws CRIU_NOT_FOUND or CRIU_TOO_OLD with how to get one. */
export function findCriu(explicit?: string, env: NodeJS.ProcessEnv = process.env): CriuBinary {
  const named = explicit ?? (env.CKPTDB_CRIU || undefined);
  const path = named ?? onPath(env);
  if (!path) throw new CkptdbError('CRIU_NOT_FOUND', `no criu on PATH and neither --criu nor CKPTDB_CRIU names one: ${HOW_TO_GET}`);
  const from = explicit !== undefined ? '--criu' : named !== undefined ? 'CKPTDB_CRIU' : 'PATH';
  if (!executable(path)) throw new CkptdbError('CRIU_NOT_FOUND', `criu ${path} (from ${from}) is not an executable file: ${HOW_TO_GET}`);
  let out: string;
  try {
    out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new CkptdbError('CRIU_NOT_FOUND', `criu ${path} (from ${from}) does not run: ${(e as Error).message.split('\n')[0]}: ${HOW_TO_GET}`);
  }
  const m = /^Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/m.exec(out);
  if (!m) throw new CkptdbError('CRIU_NOT_FOUND', `criu ${path} (from ${from}) does not say its version: ${HOW_TO_GET}`);
  const version = m.slice(1).filter((x) => x !== undefined).join('.');
  if (Number(m[1]) < MIN_MAJOR) throw new CkptdbError('CRIU_TOO_OLD', `criu ${path} (from ${from}) is version ${version}, older than 4.0: ${HOW_TO_GET}`);
  return { path, version };
}
