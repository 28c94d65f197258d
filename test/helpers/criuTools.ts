/**
 * CRIU and crit for the tests (and benchmarks), from CKPTDB_TEST_CRIU and
 * CKPTDB_TEST_CRIT (.ci/run sets both to ../shared/tools/criu-4.2/), else criu and crit
 * on PATH. Each is probed once: a test that needs one that is not there, or does not
 * run, skips and says why. CRIU must be 4.x: 3.x cannot dump on this kernel.
 */
import { execFileSync } from 'node:child_process';

export interface Tool {
  /** The command to run, or null when it cannot be used. */
  path: string | null;
  /** Why it cannot be used, or null. */
  missing: string | null;
}

function probe(variable: string, fallback: string, args: string[], check: (out: string) => string | null): Tool {
  const path = process.env[variable] || fallback;
  try {
    const out = execFileSync(path, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    const wrong = check(out);
    return wrong ? { path: null, missing: `${path} (${variable}): ${wrong}` } : { path, missing: null };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const line = (err.stderr ?? '').trim().split('\n').at(-1) || err.message.split('\n')[0];
    return { path: null, missing: `${path} (${variable}) does not run: ${line}` };
  }
}

export const CRIU: Tool = probe('CKPTDB_TEST_CRIU', 'criu', ['--version'], (out) => {
  const v = /Version:\s*(\d+)\.(\d+)/.exec(out);
  return v && Number(v[1]) >= 4 ? null : `not CRIU 4.x (${out.trim().split('\n')[0]}): CRIU 3.x cannot dump on this kernel`;
});

export const CRIT: Tool = probe('CKPTDB_TEST_CRIT', 'crit', ['--help'], () => null);

const warned = new Set<string>();

/** Whether the tests needing this tool skip; says why once per test file. */
export function skipWithout(tool: Tool): boolean {
  if (tool.missing && !warned.has(tool.missing)) {
    warned.add(tool.missing);
    console.warn(`skipped: ${tool.missing}`);
  }
  return tool.missing !== null;
}
