import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diffCheckpoints, openStore, type DiffDocument } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { ISSUE_OUTLINE, makeIssueChanges, outline, storeDigest, twoStores } from './helpers/diff.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { Tree, checkpoint } from './helpers/tree.js';

/** A store holding the starting tree (checkpoint 1) and the tree after `change` (checkpoint 2). */
function storeWith(change: (tree: Tree) => void = makeIssueChanges, prepare?: (tree: Tree) => void): string {
  const path = tempStorePath();
  const store = openStore(path);
  const tree = new Tree();
  prepare?.(tree);
  checkpoint(store, tree, { label: 'before' });
  change(tree);
  checkpoint(store, tree, { label: 'after', order: 'reverse' });
  store.close();
  return path;
}

const ISSUE_TEXT = `tasks    2 added, 1 removed, 0 changed
fds      9 added, 5 removed, 2 changed
maps     5 added, 4 removed, 0 changed
objects  1 added, 1 removed, 7 changed

process 4100 python3, start_time 5000000
  + thread 4104 python3 (state sleeping)
  ~ fd 5: pos 100 → 4196
  - fd 6: reg /etc/hosts (pos 0, flags O_RDONLY|O_LARGEFILE, cloexec)
  ~ fd 7: cloexec yes → no
  + fd 8: reg /tmp/tree/new (pos 0, flags O_RDWR|O_LARGEFILE, shared_with 4103:8)
  + map 00007f3a5c000000-00007f3a5c021000 rw-p

- process 4102 sleep, start_time 5000200
  - task 4102 sleep (state sleeping, ppid 4100, cmdline sleep 1000)
  - fd 0: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  - fd 1: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  - fd 2: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  - fd 4: pipe pipe:[9001] (pos 0, flags O_WRONLY, shared_with 4100:4)
  - 4 maps

+ process 4103 python3, start_time 5000300
  + task 4103 python3 (state sleeping, ppid 4100, cmdline python3 tree.py)
  + fd 0: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  + fd 1: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  + fd 2: chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 5 more)
  + fd 3: pipe pipe:[9001] (pos 0, flags O_RDONLY, shared_with 4100:3, 4101:3)
  + fd 4: pipe pipe:[9001] (pos 0, flags O_WRONLY, shared_with 4100:4)
  + fd 5: reg /tmp/tree/log (pos 4196, flags O_WRONLY|O_APPEND|O_LARGEFILE, shared_with 4100:5)
  + fd 7: socket socket:[9100] (pos 0, flags O_RDWR, shared_with 4100:7)
  + fd 8: reg /tmp/tree/new (pos 0, flags O_RDWR|O_LARGEFILE, shared_with 4100:8)
  + 4 maps

kernel objects
  - inode 8:1:500002 (refcount 1)
  + inode 8:1:700000 (refcount 1)
  ~ ns cgroup:[4026531835]: refcount 3 → 4
  ~ ns ipc:[4026531839]: refcount 3 → 4
  ~ ns mnt:[4026531841]: refcount 3 → 4
  ~ ns net:[4026531840]: refcount 3 → 4
  ~ ns pid:[4026531836]: refcount 3 → 4
  ~ ns user:[4026531837]: refcount 3 → 4
  ~ ns uts:[4026531838]: refcount 3 → 4
`;

const HEAD = /^--- checkpoint 1 "before" \(proc, \S+Z\)\n\+\+\+ checkpoint 2 "after" \(proc, \S+Z\)\n/;


describe('ckptdb diff', () => {
  it("prints the issue's changes as a review, grouped by process, and exits 1", async () => {
    const db = storeWith();
    const r = await runCli(['diff', '1', '2'], { db });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(HEAD);
    expect(r.stdout.replace(HEAD, '')).toBe(ISSUE_TEXT);
  });

  it("prints the issue's changes as one JSON document, the library's document", async () => {
    const db = storeWith();
    const r = await runCli(['diff', '1', '2', '--format', 'json'], { db });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as DiffDocument;
    expect(Object.keys(doc)).toEqual(['format', 'version', 'a', 'b', 'kinds', 'ignored', 'identical', 'summary', 'tasks', 'fds', 'maps', 'objects', 'images']);
    expect(outline(doc)).toEqual(ISSUE_OUTLINE);
    const store = openStore(db);
    expect(doc).toEqual(JSON.parse(JSON.stringify(await diffCheckpoints(store, 1, 2))));
    store.close();
    expect(doc.fds!.changed[0]).toEqual({
      kind: 'fds', status: 'changed', key: { pid: 4100, start_time: 5000000, fd: 5 },
      process: { pid: 4100, start_time: 5000000, comm: 'python3', status: 'changed' },
      changes: { pos: { old: 100, new: 4196 } },
    });
    expect((await runCli(['diff', '1', '2', '--json'], { db })).stdout).toBe(r.stdout);
  });

  it('exits 0 for a checkpoint against itself and against an identical re-capture', async () => {
    const db = storeWith(() => {});
    for (const [a, b] of [['1', '1'], ['1', '2'], ['2', '1']]) {
      const text = await runCli(['diff', a!, b!], { db });
      expect(text.code).toBe(0);
      expect(text.stdout.split('\n').slice(2).join('\n')).toBe(
        'tasks    0 added, 0 removed, 0 changed\nfds      0 added, 0 removed, 0 changed\n' +
        'maps     0 added, 0 removed, 0 changed\nobjects  0 added, 0 removed, 0 changed\nidentical\n',
      );
      const json = await runCli(['diff', a!, b!, '--format', 'json'], { db });
      expect(json.code).toBe(0);
      const doc = JSON.parse(json.stdout) as DiffDocument;
      expect(doc.identical).toBe(true);
      expect(doc.fds).toEqual({ added: [], removed: [], changed: [] });
    }
  });

  it('reports a reused pid as a process removed and another added', async () => {
    const db = storeWith((t) => t.reusePid(4101, 6_000_000, 'cat'));
    const r = await runCli(['diff', '1', '2', '--only', 'tasks'], { db });
    expect(r.code).toBe(1);
    expect(r.stdout.replace(HEAD, '')).toBe(`tasks    1 added, 1 removed, 0 changed

- process 4101 sleep, start_time 5000100
  - task 4101 sleep (state sleeping, ppid 4100, cmdline sleep 1000)

+ process 4101 cat, start_time 6000000
  + task 4101 cat (state sleeping, ppid 4100, cmdline cat)
`);
  });

  it('diffs against a checkpoint in another store with --db-b, leaving that store as it was', async () => {
    const { a, b } = twoStores();
    const before = storeDigest(b);
    const r = await runCli(['diff', '1', '1', '--db-b', b, '--json'], { db: a });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as DiffDocument;
    expect(doc.b.store).toBe(b);
    expect(outline(doc)).toEqual(ISSUE_OUTLINE);
    expect(storeDigest(b)).toBe(before);
    const text = await runCli(['diff', '1', '1', '--db-b', b], { db: a });
    expect(text.stdout.split('\n')[1]).toMatch(/^\+\+\+ checkpoint 1 "after" \(proc, \S+\) in .*b\.sqlite$/);
  });

  it('compares only the kinds asked for and leaves out ignored fields', async () => {
    const db = storeWith();
    const r = await runCli(['diff', '1', '2', '--only', 'fds', '--ignore', 'pos', '--ignore', 'shared_with,flags'], { db });
    expect(r.code).toBe(1);
    expect(r.stdout.replace(HEAD, '').split('\n').slice(0, 8)).toEqual([
      'ignoring pos, shared_with, flags',
      'fds      9 added, 5 removed, 1 changed',
      '',
      'process 4100 python3, start_time 5000000',
      '  - fd 6: reg /etc/hosts (cloexec)',
      '  ~ fd 7: cloexec yes → no',
      '  + fd 8: reg /tmp/tree/new',
      '',
    ]);
    const none = await runCli(['diff', '1', '2', '--only', 'fds', '--ignore', 'fds.cloexec,pos', '--only', 'maps', '--json'], { db });
    const doc = JSON.parse(none.stdout) as DiffDocument;
    expect(doc.kinds).toEqual(['fds', 'maps']);
    expect(doc.summary).toEqual({ fds: { added: 9, removed: 5, changed: 0 }, maps: { added: 5, removed: 4, changed: 0 } });
  });

  it("shows the fds of a thread's own fd table under their process, named by the thread", async () => {
    const db = storeWith(
      (t) => {
        t.thread(4104).fds.delete(3);
        t.threadFd(4104, 6).cloexec = false;
        t.startThread(4100, 4105, 5_000_500);
        t.unshareFiles(4105);
      },
      (t) => {
        t.startThread(4100, 4104, 5_000_400);
        t.unshareFiles(4104);
      },
    );
    const r = await runCli(['diff', '1', '2', '--only', 'tasks,fds'], { db });
    expect(r.code).toBe(1);
    expect(r.stdout.replace(HEAD, '')).toBe(`tasks    1 added, 0 removed, 0 changed
fds      8 added, 1 removed, 1 changed

process 4100 python3, start_time 5000000
  + thread 4105 python3 (state sleeping)
  - fd 3 (thread 4104): pipe pipe:[9001] (pos 0, flags O_RDONLY, shared_with 4100:3, 4101:3)
  ~ fd 6 (thread 4104): cloexec yes → no
  + fd 0 (thread 4105): chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 11 more)
  + fd 1 (thread 4105): chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 11 more)
  + fd 2 (thread 4105): chr /dev/pts/0 (pos 0, flags O_RDWR, shared_with 4100:0, 4100:1, 4100:2 and 11 more)
  + fd 3 (thread 4105): pipe pipe:[9001] (pos 0, flags O_RDONLY, shared_with 4100:3, 4101:3)
  + fd 4 (thread 4105): pipe pipe:[9001] (pos 0, flags O_WRONLY, shared_with 4100:4, 4100/4104:4, 4102:4)
  + fd 5 (thread 4105): reg /tmp/tree/log (pos 100, flags O_WRONLY|O_APPEND|O_LARGEFILE, shared_with 4100:5, 4100/4104:5)
  + fd 6 (thread 4105): reg /etc/hosts (pos 0, flags O_RDONLY|O_LARGEFILE, cloexec, shared_with 4100:6, 4100/4104:6)
  + fd 7 (thread 4105): socket socket:[9100] (pos 0, flags O_RDWR, cloexec, shared_with 4100:7, 4100/4104:7)
`);
    const doc = JSON.parse((await runCli(['diff', '1', '2', '--only', 'fds', '--json'], { db })).stdout) as DiffDocument;
    expect(doc.fds!.changed[0]!.key).toEqual({ pid: 4100, start_time: 5_000_000, thread: { pid: 4104, start_time: 5_000_400 }, fd: 6 });
  });

  it('writes 64-bit values as exact JSON numbers', async () => {
    const db = storeWith((t) => t.advance(4100, 5, 1n));
    const store = openStore(db);
    store.db.prepare("UPDATE files SET pos = pos + 9223372036854770000 WHERE path = '/tmp/tree/log'").run();
    store.close();
    const r = await runCli(['diff', '1', '2', '--json'], { db });
    expect(r.stdout).toContain('"changes":{"pos":{"old":9223372036854770100,"new":9223372036854770101}}');
    const text = await runCli(['diff', '1', '2'], { db });
    expect(text.stdout).toContain('~ fd 5: pos 9223372036854770100 → 9223372036854770101\n');
  });

  it('answers an unknown checkpoint, an unreadable store and a bad option with one line and exit 2', async () => {
    const db = storeWith(() => {});
    const dir = tempDir();
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'not a database at all, but long enough to have a header of a hundred bytes'.repeat(2));
    const cases: [string[], RegExp][] = [
      [['diff', '1', '9'], /^ckptdb: no checkpoint 9 in .*store\.sqlite \(`ckptdb list` shows the checkpoints there are\)\n$/],
      [['diff', '7', '1'], /^ckptdb: no checkpoint 7 in /],
      [['diff', '1', '1', '--db-b', join(dir, 'nothing.sqlite')], /^ckptdb: no store at .*nothing\.sqlite/],
      [['diff', '1', '1', '--db-b', notes], /^ckptdb: .*notes\.txt is not a SQLite database/],
      [['diff', '1', 'two'], /^ckptdb: checkpoint id 'two' is not a positive integer\n$/],
      [['diff', '1', '2', '--ignore', 'position'], /^ckptdb: ignore: no field 'position' \(name a field \(pos\), .*\)\n$/],
      [['diff', '1', '2', '--only', 'files'], /^ckptdb: only: no kind 'files' \(kinds are tasks, fds, maps, objects, images\)\n$/],
      [['diff', '1', '2', '--format', 'yaml'], /^error: option '--format <format>' argument 'yaml' is invalid/],
      [['diff', '1'], /^error: missing required argument 'b'/],
    ];
    for (const [args, stderr] of cases) {
      const r = await runCli(args, { db });
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toMatch(stderr);
      expect(r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('(run with --help')).length).toBe(1);
    }
    expect(existsSync(join(dir, 'nothing.sqlite'))).toBe(false);
  });

  it('explains itself in --help: what it compares, every option, exit status, examples', async () => {
    const r = await runCli(['diff', '--help']);
    expect(r.code).toBe(0);
    for (const text of ['what changed from checkpoint A to checkpoint B', '--db-b <path>', '--format <format>', '--json', '--only <kinds>',
      '--ignore <fields>', 'Exit status: 0 identical, 1 different, 2 error', 'Examples:', 'shared_with']) {
      expect(r.stdout).toContain(text);
    }
  });
});

describe('ckptdb diff into a pipe', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('stops quietly when the reader goes away, still exiting 1', async () => {
    // 3,000 fds opened: far more output than a pipe buffer holds
    const db = storeWith((t) => {
      for (let i = 0; i < 3000; i++) t.openFile(4100, `/tmp/tree/many/${i}`);
    });
    const child = spawn('bash', ['-c', `node ${JSON.stringify(CLI)} diff 1 2 | head -n 3; echo "status \${PIPESTATUS[0]}"`], {
      env: { ...process.env, CKPTDB_DB: db },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.split('\n').slice(2)).toEqual(['tasks    0 added, 0 removed, 0 changed', 'status 1', '']);
  });
});
