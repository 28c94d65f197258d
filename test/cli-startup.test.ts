/**
 * What the built CLI loads, read from the files it opens (strace): --help and --version
 * load commander and the commands' option lists, nothing of what the commands run; a
 * command loads what it runs and not what the others do.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** The packages of node_modules whose files the CLI opened, run with these arguments. */
function packagesLoaded(args: string[]): Set<string> {
  const trace = join(tempDir(), 'trace');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, CLI, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const found = new Set<string>();
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    if (line.includes('ENOENT')) continue;
    const m = /node_modules\/((?:@[^/"]+\/)?[^/"]+)/.exec(line);
    if (m) found.add(m[1]!);
  }
  return found;
}

describe('ckptdb start-up', () => {
  it('--version, --help and a command\'s --help load commander alone', () => {
    for (const args of [['--version'], ['--help'], ['capture', '--help'], ['export', '--help'], ['import', '--help'], ['diff', '--help'], ['checkpoint', '--help']]) {
      expect([...packagesLoaded(args)], args.join(' ')).toEqual(['commander']);
    }
  });

  it('a command loads what it runs: a capture no PostgreSQL, query builder or CRIU decoder; a query of SQLite no PostgreSQL client, no kcmp', async () => {
    const db = join(tempDir(), 'store.sqlite');
    const captured = packagesLoaded(['--db', db, 'capture', String(process.pid)]);
    expect(captured).toContain('better-sqlite3');
    expect(captured).toContain('koffi');
    for (const p of ['pg', 'kysely', '@bufbuild/protobuf', 'tar-stream', 'zstd-napi']) expect(captured, p).not.toContain(p);

    expect((await runCli(['list'], { db })).code).toBe(0);
    const listed = packagesLoaded(['--db', db, 'list']);
    expect(listed).toContain('better-sqlite3');
    for (const p of ['pg', 'koffi', '@bufbuild/protobuf', 'zstd-napi']) expect(listed, p).not.toContain(p);
  });
});
