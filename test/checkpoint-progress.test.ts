/**
 * A large checkpoint shows how its pages are being stored on a terminal, and says
 * nothing of it when stderr is not one.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.js';
import { CLI } from './helpers/cli.js';
import { NO_CRIU, TEST_CRIU, ckptdb, isRoot, lines, startTree, until } from './helpers/criuRun.js';

const run = promisify(execFile);

describe.skipIf(!!NO_CRIU || !isRoot)(`progress of checkpoint ${NO_CRIU}`, () => {
  it('draws a bar of the MiB stored on a terminal, and none into a pipe', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const ready = join(dir, 'ready');
    const pid = startTree('python3', ['-c', `import os, time\na = bytearray(os.urandom(80 << 20))\nprint("ready", flush=True)\ntime.sleep(600)`], ready);
    await until(() => lines(ready).length > 0, 20_000, 'the holder');

    const piped = await ckptdb(db, ['checkpoint', String(pid)]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/storing pages/);

    const { stdout } = await run('script', ['-qec', `node ${CLI} checkpoint ${pid}`, '/dev/null'], { env: { ...process.env, CKPTDB_DB: db, CKPTDB_CRIU: TEST_CRIU! } });
    expect(stdout).toMatch(/checkpoint: storing pages \[[=-]+\] \d+% \d+\/8\d MiB/);
    // the bar is cleared, and the id follows alone on its line, then the summary
    // what the terminal shows: a bar redrawn from column 1 leaves only its last state
    const shown = stdout
      .replace(/\x1b\[(1G|2K)/g, '\r')
      .replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '')
      .split('\n')
      .map((l) => l.replace(/\r+$/, '').replace(/^.*\r/s, ''));
    expect(shown).toContain('2');
    expect(shown.find((l) => l.startsWith('checkpoint 2: '))).toBeDefined();
  });
});
