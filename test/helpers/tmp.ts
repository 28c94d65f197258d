import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-test-'));
  dirs.push(dir);
  return dir;
}

/** A path for a store that does not exist yet, in a fresh directory. */
export function tempStorePath(): string {
  return join(tempDir(), 'store.sqlite');
}
