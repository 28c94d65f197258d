/**
 * A pages image large enough for the chunk store's worker threads on both ways: on
 * import they read and hash its blocks themselves, on export each writes a range of it.
 * Through the built CLI (the workers run from dist/), against a real CRIU dump: what
 * comes back out is CRIU's file byte for byte, and the store verifies clean.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.js';
import { NO_CRIU, TEST_CRIU, ckptdb, isRoot, lines, startTree, until } from './helpers/criuRun.js';

/**
 * 44 MiB of random bytes and 32 MiB of one random MiB repeated, so that the pages image
 * is past 64 MiB, its last range of chunks is a short one, and the repeated MiB is
 * stored once but written out 32 times.
 */
const HOLDER = [
  'import os, time',
  'a = bytearray(os.urandom(44 << 20))',
  'b = bytearray(os.urandom(1 << 20) * 32)',
  'print("ready", flush=True)',
  'time.sleep(600)',
].join('\n');

describe.skipIf(!!NO_CRIU || !isRoot)(`large pages images through the workers ${NO_CRIU}`, () => {
  it('import then export --format criu gives back every file CRIU wrote, the pages byte for byte; verify is clean', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const out = join(dir, 'holder');
    const pid = startTree('python3', ['-c', HOLDER], out);
    await until(() => lines(out).length > 0, 20_000, 'the holder');
    const dump = join(dir, 'dump');
    mkdirSync(dump);
    execFileSync(TEST_CRIU!, ['dump', '-t', String(pid), '--leave-running', '-D', dump, '-o', 'dump.log']);
    const pages = readdirSync(dump).filter((n) => n.startsWith('pages-'));
    const largest = Math.max(...pages.map((n) => statSync(join(dump, n)).size));
    expect(largest).toBeGreaterThan(76 << 20);

    const imported = await ckptdb(db, ['import', dump]);
    expect(imported.code, imported.stderr).toBe(0);
    const id = imported.stdout.trim();
    expect(await ckptdb(db, ['verify', id])).toMatchObject({ code: 0 });

    const back = join(dir, 'back');
    const exported = await ckptdb(db, ['export', id, '--format', 'criu', '--out', back]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readdirSync(back).sort()).toEqual(readdirSync(dump).sort());
    for (const name of pages) {
      const original = readFileSync(join(dump, name));
      const written = readFileSync(join(back, name));
      expect(written.length, name).toBe(original.length);
      expect(written.equals(original), name).toBe(true);
      expect(statSync(join(back, name)).mode & 0o777, name).toBe(0o600);
    }
  }, 60_000);
});
