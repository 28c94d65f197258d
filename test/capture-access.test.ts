/**
 * Captures without full access, as an unprivileged user gets them: what the kernel
 * will not show is recorded as unreadable with the reason, and where kcmp is refused
 * sharing is inferred from evidence and marked so. Run as root, the tests drop to
 * nobody with setpriv.
 */
import { chmodSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { cliAs, fixturesForNobody, NOBODY } from './helpers/nobody.js';
import { startProcTree } from './helpers/processes.js';
import { tempDir } from './helpers/tmp.js';

const isRoot = process.getuid?.() === 0;
/** A python3 that nobody may run (the one on PATH may live under /root). */
const systemPython = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));


/** A directory nobody can write a store into. */
function sharedDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  return dir;
}

function runAs(setpriv: string[], args: string[], db: string) {
  return runCli(args, { db, command: cliAs(setpriv) });
}

describe.skipIf(!isRoot)('capture without full access', () => {
  it('records what it may not read as unreadable, with the reason', async () => {
    const db = `${sharedDir()}/store.sqlite`;
    const info = await startProcTree(tempDir());
    const r = await runAs(['--reuid', NOBODY, '--regid', NOBODY], ['capture', String(info.parent), '--tree'], db);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: \d+ entries could not be read \(permission\) and are recorded as unreadable/);
    const store = openStore(db, { create: false });
    const id = Number(r.stdout);
    const t = store.db.prepare('SELECT comm, cmdline, exe, unreadable FROM tasks WHERE checkpoint_id = ? AND pid = ?').get(id, info.parent) as Record<string, string | null>;
    // the command line is public; the fds, executable, directories and maps are not
    expect(JSON.parse(t.cmdline!)).toEqual(expect.arrayContaining([expect.stringMatching(/proc-tree\.py$/)]));
    expect(t.exe).toBeNull();
    expect(JSON.parse(t.unreadable!)).toMatchObject({
      fds: expect.stringMatching(/^EACCES/), exe: expect.stringMatching(/^EACCES/), cwd: expect.stringMatching(/^EACCES/), maps: expect.stringMatching(/^EACCES/),
    });
    expect(store.db.prepare('SELECT count(*) FROM fds WHERE checkpoint_id = ?').pluck().get(id)).toBe(0);
    // kcmp needs ptrace access too: the task objects are inferred (threads of one process share)
    const c2 = store.db.prepare('SELECT DISTINCT o.inferred, o.refcount FROM tasks t JOIN shared_objects o ON o.id = t.fdtable_id WHERE t.checkpoint_id = ? AND t.tgid = ?').all(id, info.c2);
    expect(c2).toEqual([{ inferred: 1, refcount: 4 }]);
    expect(store.verify(id)).toEqual([]);
    store.close();
  });

  it.skipIf(!systemPython)('infers open-file sharing from evidence when kcmp is refused but fdinfo is not', async () => {
    const db = `${sharedDir()}/store.sqlite`;
    const info = await startProcTree(sharedDir(), {
      command: ['setpriv', '--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', systemPython!],
      fixtures: fixturesForNobody(),
    });
    // the file-system uid (from the effective uid) may read the tree's fdinfo; kcmp checks the real uid, which differs
    const r = await runAs(['--ruid', '4242', '--euid', NOBODY, '--rgid', NOBODY, '--egid', NOBODY], ['capture', String(info.parent), '--tree'], db);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: sharing of \d+ objects was inferred, not decided by kcmp/);
    const store = openStore(db, { create: false });
    const id = Number(r.stdout);
    const file = (pid: number, fd: number) =>
      store.db
        .prepare(
          `SELECT o.id, o.key, o.refcount, o.inferred, f.pos FROM tasks t JOIN fds d ON d.fdtable_id = t.fdtable_id
           JOIN shared_objects o ON o.id = d.file_id JOIN files f ON f.id = o.id WHERE t.checkpoint_id = ? AND t.pid = ? AND d.fd = ?`,
        )
        .get(id, pid, fd) as { id: number; key: string; refcount: number; inferred: number; pos: number };
    const data = file(info.parent, info.fds.data!);
    expect(data).toMatchObject({ key: `${info.parent}:${info.fds.data}`, refcount: 8, inferred: 1, pos: 1234 });
    expect(file(info.g, info.fds.dup!).id).toBe(data.id);
    // the second open differs in position, so evidence keeps it apart
    const reopen = file(info.c1, info.reopen);
    expect(reopen).toMatchObject({ refcount: 2, inferred: 1, pos: 0 });
    expect(reopen.id).not.toBe(data.id);
    expect(store.verify(id)).toEqual([]);
    store.close();
  });
});
