/**
 * The diff compares every fd table and address space that the tasks of a process hold,
 * not only its main thread's, on live captures: the fd table of a thread that holds
 * one of its own (unshare(CLONE_FILES)), and the fd table and address space of a
 * process whose main thread has exited while another thread runs (the zombie leader
 * holds neither).
 *
 * The live tree (proc-tree.py; its --extra for the zombie leader) has both shapes. Its
 * capture is exported, one record of such a table changed and imported back: the first
 * test of each case proves the copy differs from the capture in exactly that row; the
 * second that the diff reports that change and nothing else, in both formats, under the
 * right key. A third captures the tree twice: the process whose main thread exited is
 * matched across the captures by its zombie leader's pid and start time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type DiffDocument } from '../src/index.js';
import { checkpointContent } from './helpers/checkpointRows.js';
import { runCli } from './helpers/cli.js';
import { outline } from './helpers/diff.js';
import { type Rec } from './helpers/exported.js';
import { startProcTree, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

interface Case {
  name: string;
  /** The thread whose table is changed. */
  tid: (info: ProcTree) => number;
  /** The table of checkpointContent that changes. */
  table: 'fds' | 'maps';
  /** Picks the record to change among the table's records (fd records of its fd table, or map records of its address space). */
  pick: (info: ProcTree) => (r: Rec) => boolean;
  change: (r: Rec) => Rec;
  /** The one line of the outline (test/helpers/diff.ts) and of the text that the diff must have, given the changed record. */
  expected: (info: ProcTree, changed: Rec) => { outline: string; text: string };
}

const flipCloexec = (r: Rec) => ({ ...r, cloexec: !r.cloexec });
const yesNo = (v: unknown) => (v ? 'yes' : 'no');

const CASES: Case[] = [
  {
    name: "a thread's own fd table", tid: (info) => info.t, table: 'fds',
    pick: (info) => (r) => r.fd === info.own, change: flipCloexec,
    // named by the thread that owns it
    expected: (info, r) => ({
      outline: `fds changed ${info.c3}/${info.t}:${info.own} cloexec ${String(!r.cloexec)}→${String(r.cloexec)}`,
      text: `  ~ fd ${info.own} (thread ${info.t}): cloexec ${yesNo(!r.cloexec)} → ${yesNo(r.cloexec)}\n`,
    }),
  },
  // the fixture makes a zombie leader on x86-64 only
  ...(process.arch !== 'x64' ? [] : [
    {
      name: 'the fd table of a process whose main thread exited', tid: (info: ProcTree) => info.extra!.l_thread!, table: 'fds' as const,
      pick: (info: ProcTree) => (r: Rec) => r.fd === info.fds.data, change: flipCloexec,
      // the only fd table of the process: its own, though its main thread no longer holds it
      expected: (info: ProcTree, r: Rec) => ({
        outline: `fds changed ${info.extra!.l}:${info.fds.data} cloexec ${String(!r.cloexec)}→${String(r.cloexec)}`,
        text: `  ~ fd ${info.fds.data}: cloexec ${yesNo(!r.cloexec)} → ${yesNo(r.cloexec)}\n`,
      }),
    },
    {
      name: 'the address space of a process whose main thread exited', tid: (info: ProcTree) => info.extra!.l_thread!, table: 'maps' as const,
      pick: () => (r: Rec) => r.path === '[stack]', change: (r: Rec) => ({ ...r, perms: r.perms === 'rw-p' ? 'r--p' : 'rw-p' }),
      expected: (info: ProcTree, r: Rec) => {
        const old = r.perms === 'rw-p' ? 'r--p' : 'rw-p';
        const start = String(r.start).padStart(16, '0');
        return {
          outline: `maps changed ${info.extra!.l}@${start} perms "${old}"→"${String(r.perms)}"`,
          text: `  ~ map ${start}: perms ${old} → ${String(r.perms)}\n`,
        };
      },
    },
  ]),
];

interface ChangedCopy {
  db: string;
  info: ProcTree;
  a: number;
  b: number;
  /** The record as it is in the copy. */
  changed: Rec;
}

/** The live tree captured (checkpoint a), and a copy (b) with one record of the case's table changed. */
async function changedCopy(c: Case): Promise<ChangedCopy> {
  const db = tempStorePath();
  const info = await startProcTree(tempDir(), { extra: true });
  const captured = await runCli(['capture', String(info.parent), '--tree'], { db });
  expect(captured.code, captured.stderr).toBe(0);
  const a = Number(captured.stdout);
  const path = join(tempDir(), 'ck.ndjson');
  expect((await runCli(['export', String(a), '--format', 'image-ndjson', '--out', path], { db })).code).toBe(0);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const records = lines.map((l) => JSON.parse(l) as Rec);
  const task = records.find((r) => r.record === 'task' && r.pid === c.tid(info))!;
  const leader = records.find((r) => r.record === 'task' && r.pid === task.tgid)!;
  const [field, record] = c.table === 'fds' ? ['fdtable', 'fd'] : ['mm', 'map'];
  // not the table of the process's main thread
  expect(task[field]).not.toBe(leader[field]);
  const picked = c.pick(info);
  const at = records.findIndex((r) => r.record === record && r[field] === task[field] && picked(r));
  expect(at).toBeGreaterThan(0);
  const changed = c.change(records[at]!);
  lines[at] = JSON.stringify(changed);
  writeFileSync(path, lines.join('\n') + '\n');
  const imported = await runCli(['import', path], { db });
  expect(imported.code, imported.stderr).toBe(0);
  return { db, info, a, b: Number(imported.stdout), changed };
}

describe.each(CASES)('diff of $name', (c) => {
  it('the copy differs from the capture in that one row', async () => {
    const { db, a, b } = await changedCopy(c);
    const store = openStore(db, { create: false });
    const [before, after] = [checkpointContent(store, a), checkpointContent(store, b)];
    store.close();
    const text = (row: unknown) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(before.tables[c.table]!.filter((row, i) => text(row) !== text(after.tables[c.table]![i]))).toHaveLength(1);
    expect({ ...after, tables: { ...after.tables, [c.table]: before.tables[c.table] } }).toEqual(before);
  });

  it('reports that change and nothing else, in both formats, with exit 1', async () => {
    const { db, info, a, b, changed } = await changedCopy(c);
    const expected = c.expected(info, changed);
    const json = await runCli(['diff', String(a), String(b), '--format', 'json'], { db });
    expect(json.code, json.stderr).toBe(1);
    expect(outline(JSON.parse(json.stdout) as DiffDocument)).toEqual([expected.outline]);

    const text = await runCli(['diff', String(a), String(b)], { db });
    expect(text.code, text.stderr).toBe(1);
    const process = c.table === 'fds' && c.tid(info) === info.t ? info.c3 : info.extra!.l!;
    // the change, under its process
    expect(text.stdout).toContain(`\nprocess ${process} ${info.comm}, start_time `);
    expect(text.stdout.slice(text.stdout.indexOf(`\nprocess ${process} `)).split('\n').slice(2).join('\n')).toBe(expected.text);
  });
});

describe.runIf(process.arch === 'x64')('a process whose main thread exited, captured twice', () => {
  it('is matched by its zombie leader, its tables compared: the idle tree diffs as identical', async () => {
    const info = await startProcTree(tempDir(), { extra: true });
    const db = tempStorePath();
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['capture', String(info.parent), '--tree'], { db });
      expect(r.code, r.stderr).toBe(0);
    }
    const store = openStore(db, { create: false });
    const rows = (checkpoint: number) => store.db.prepare(
      'SELECT pid, state, start_time, mm_id IS NOT NULL AS mm, fdtable_id IS NOT NULL AS fdtable FROM tasks WHERE checkpoint_id = ? AND tgid = ? ORDER BY pid',
    ).all(checkpoint, info.extra!.l);
    const [first, second] = [rows(1), rows(2)];
    store.close();
    // what capture keeps of the leader: a zombie with its start time, holding no table; its thread holds both
    expect(first).toEqual([
      { pid: info.extra!.l, state: 'Z', start_time: expect.any(Number), mm: 0, fdtable: 0 },
      { pid: info.extra!.l_thread, state: 'S', start_time: expect.any(Number), mm: 1, fdtable: 1 },
    ]);
    expect(second).toEqual(first);

    const json = await runCli(['diff', '1', '2', '--format', 'json'], { db });
    expect(json.code, json.stdout).toBe(0);
    expect(outline(JSON.parse(json.stdout) as DiffDocument)).toEqual([]);
    const text = await runCli(['diff', '1', '2'], { db });
    expect(text.code, text.stdout).toBe(0);
    expect(text.stdout).toMatch(/\nidentical\n$/);
  });
});
