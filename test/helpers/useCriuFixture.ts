import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildFixture } from './criuFixture.js';

/** The fixture directory, built once for a test file (by buildFixture unless told) and removed after it. */
export function useFixture(build: (dir: string) => Promise<void> = buildFixture): () => string {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckptdb-criu-'));
    await build(dir);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}
