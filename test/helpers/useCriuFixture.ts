import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildFixture } from './criuFixture.js';
import { CRIT } from './criuTools.js';

/**
 * The fixture directory, built once for a test file (by buildFixture unless told) and
 * removed after it. Without crit nothing is built: the tests that use it skip.
 */
export function useFixture(build: (dir: string) => Promise<void> = buildFixture): () => string {
  let dir = '';
  beforeAll(async () => {
    if (CRIT.missing) return;
    dir = mkdtempSync(join(tmpdir(), 'ckptdb-criu-'));
    await build(dir);
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
