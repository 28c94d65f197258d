/**
 * The round trip on live captures. A process tree spawned here
 * (test/fixtures/proc-tree.py --extra: pipes, a FIFO, sockets of four kinds, files
 * shared by fork and dup, threads, threads with fd tables of their own, processes
 * sharing another's fd table (and one its address space too), namespaces of its own,
 * a zombie, a zombie thread-group leader with a live thread, a stopped process, a file
 * name that is not UTF-8, a resource limit above 2^63) and this whole machine are
 * captured through the built
 * CLI, exported in every format and imported back. Then:
 *   - `ckptdb diff` finds the copy identical to the original (exit 0, "identical");
 *   - exporting the copy gives the same bytes (for the tree, the same files), apart
 *     from the checkpoint's id and finish time;
 *   - the store holds the same rows: checkpointContent also covers what the diff does
 *     not compare (the checkpoint's own fields, mount ids, what was unreadable, which
 *     sharing was inferred);
 * and every exported image keeps the restore order and validates against the
 * published JSON Schema.
 */
import { chmodSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { checkpointContent } from './helpers/checkpointRows.js';
import { runCli } from './helpers/cli.js';
import { cliAs, NOBODY } from './helpers/nobody.js';
import { imageRecords, schemaViolations, treeFiles, withoutIdAndTime, type Rec } from './helpers/exported.js';
import { restoreOrderViolations } from './helpers/imageOrder.js';
import { startProcTree, type ProcTree } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

type Format = 'image' | 'image-ndjson' | 'tree';
const FORMATS: readonly Format[] = ['image', 'image-ndjson', 'tree'];
const isRoot = process.getuid?.() === 0;

/** Spawns the tree with its extra shapes and captures it through the CLI into a new store. */
async function captureTree(flags: string[] = []): Promise<{ db: string; id: number; info: ProcTree; stderr: string }> {
  const db = tempStorePath();
  const info = await startProcTree(tempDir(), { extra: true });
  const r = await runCli(['capture', String(info.parent), '--tree', ...flags], { db });
  expect(r.code, r.stderr).toBe(0);
  return { db, id: Number(r.stdout), info, stderr: r.stderr };
}

/** Exports checkpoint id into a fresh directory; the image file, or the tree's checkpoint-ID directory. */
async function exportTo(db: string, id: number, format: Format): Promise<string> {
  const dir = tempDir();
  const out = format === 'tree' ? dir : join(dir, format === 'image' ? 'ck.json' : 'ck.ndjson');
  const r = await runCli(['export', String(id), '--format', format, '--out', out], { db });
  expect(r.code, r.stderr).toBe(0);
  return format === 'tree' ? join(dir, `checkpoint-${id}`) : out;
}

/** What must be equal in two exports of one checkpoint and of its copy: all but the id and finish time. */
function comparable(path: string, format: Format): string {
  if (format !== 'tree') return withoutIdAndTime(readFileSync(path, 'utf8'));
  const files = treeFiles(path);
  files.delete('finished_at');
  return [...files].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, text]) => `${name}: ${JSON.stringify(text)}`).join('\n');
}

/** The first line where two texts part, or null: a readable failure for texts of megabytes. */
function firstDifference(a: string, b: string): string | null {
  if (a === b) return null;
  const x = a.split('\n');
  const y = b.split('\n');
  const i = x.findIndex((line, n) => line !== y[n]);
  const at = i < 0 ? x.length : i;
  return `line ${at + 1}:\n  ${x[at]?.slice(0, 400) ?? '(end)'}\n  ${y[at]?.slice(0, 400) ?? '(end)'}`;
}

async function expectIdentical(db: string, a: number, b: number, dbB?: string): Promise<void> {
  const r = await runCli(['diff', String(a), String(b), ...(dbB ? ['--db-b', dbB] : [])], { db });
  expect(r.stdout).toMatch(/\nidentical\n$/);
  expect(r.code, r.stdout).toBe(0);
}

/**
 * Exports checkpoint id in one format, imports that, and proves the copy the same:
 * identical to the diff, the same export, the same rows. Returns the copy's id.
 */
async function roundTrip(db: string, id: number, format: Format): Promise<number> {
  const first = await exportTo(db, id, format);
  // the format is detected, as a user would leave it to be
  const imported = await runCli(['import', first], { db });
  expect(imported.code, imported.stderr).toBe(0);
  const copy = Number(imported.stdout);
  expect(copy).not.toBe(id);
  await expectIdentical(db, id, copy);
  const again = await exportTo(db, copy, format);
  expect(firstDifference(comparable(again, format), comparable(first, format))).toBeNull();
  const store = openStore(db, { create: false });
  try {
    expect(checkpointContent(store, copy)).toEqual(checkpointContent(store, id));
    expect(store.verify(copy)).toEqual([]);
  } finally {
    store.close();
  }
  return copy;
}

/** Exports both image forms and checks each against the published schema and the restore-order rules; the records of the document form. */
async function checkedImage(db: string, id: number): Promise<Rec[]> {
  let records: Rec[] = [];
  for (const format of ['image-ndjson', 'image'] as const) {
    const text = readFileSync(await exportTo(db, id, format), 'utf8');
    expect(schemaViolations(text)).toEqual([]);
    records = imageRecords(text);
    expect(restoreOrderViolations(records)).toEqual([]);
  }
  return records;
}

const allTids = (info: ProcTree) => {
  const x = info.extra!;
  const x86 = [x.k, x.l, x.l_thread].filter((pid) => pid !== null);
  return [info.parent, info.c1, info.c2, info.g, ...info.threads, info.c3, info.v, info.t, x.n, x.z, x.s, x.odd_thread, x.own_thread, ...x86];
};

describe('restore images of a live tree', () => {
  it('hold every task and shape of the tree, in restore order, valid against the published schema', async () => {
    const { db, id, info } = await captureTree();
    const rs = await checkedImage(db, id);
    const x = info.extra!;
    const tasks = new Map(rs.filter((r) => r.record === 'task').map((t) => [t.pid as number, t]));
    const objects = new Map(rs.filter((r) => r.record === 'object' || r.record === 'file').map((o) => [o.id as number, o]));
    const task = (pid: number) => tasks.get(pid)!;
    const fileOf = (pid: number, fd: number) => rs.find((r) => r.record === 'fd' && r.fdtable === task(pid).fdtable && r.fd === fd)?.file;

    expect([...tasks.keys()].sort((a, b) => a - b)).toEqual(allTids(info).sort((a, b) => a - b));
    expect(rs.find((r) => r.record === 'task')!.pid).toBe(info.parent);
    // a zombie keeps no address space and no fd table; a stopped process keeps all
    expect(task(x.z)).toMatchObject({ state: 'Z', mm: null, fdtable: null });
    expect(task(x.s).state).toBe('T');
    // clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND): a process sharing all four with C3
    const [c3, v] = [task(info.c3), task(info.v)];
    expect([v.tgid, v.mm, v.fdtable, v.fs, v.sighand]).toEqual([info.v, c3.mm, c3.fdtable, c3.fs, c3.sighand]);
    // threads that unshared their fd table (and N's, its fs info too) hold their own; the address space stays their process's
    const [n, own] = [task(x.n), task(x.own_thread)];
    expect(task(info.t).mm).toBe(c3.mm);
    expect(task(info.t).fdtable).not.toBe(c3.fdtable);
    expect(fileOf(info.t, info.own)).toBeDefined();
    expect([own.mm, own.sighand]).toEqual([n.mm, n.sighand]);
    expect(own.fdtable).not.toBe(n.fdtable);
    expect(own.fs).not.toBe(n.fs);
    expect(own.cwd).toBe(info.dir);
    expect(fileOf(x.own_thread, x.own_fd)).toBeDefined();
    // the open file of the parent's data is the one its forks hold, the copied fd table included
    expect(fileOf(x.n, info.fds.data)).toBe(fileOf(info.parent, info.fds.data));
    expect(fileOf(x.own_thread, x.fds.high)).toBe(fileOf(info.parent, info.fds.data));
    if (x.k !== null) {
      // clone(CLONE_FILES | CLONE_FS): another process on N's fd table and fs info, with memory of its own
      expect([task(x.k).tgid, task(x.k).fdtable, task(x.k).fs]).toEqual([x.k, n.fdtable, n.fs]);
      expect(task(x.k).mm).not.toBe(n.mm);
    }
    if (x.l !== null) {
      // a thread-group leader that exited alone: its thread holds the fd table and the address space
      expect(task(x.l)).toMatchObject({ state: 'Z', mm: null, fdtable: null });
      expect(task(x.l_thread!)).toMatchObject({ tgid: x.l, fdtable: expect.any(Number), mm: expect.any(Number) });
      expect(fileOf(x.l_thread!, info.fds.data)).toBe(fileOf(info.parent, info.fds.data));
    }
    expect(task(x.odd_thread)).toMatchObject({ tgid: x.n, comm: 'odd) name' });
    if (x.core !== null) {
      // above 2^63: the store keeps the kernel's unsigned value as its two's complement, and so does the image
      expect((n.rlimits as Rec[]).find((l) => l.resource === 'core')).toEqual({ resource: 'core', soft: String(BigInt.asIntN(64, BigInt(x.core))), hard: null });
    }
    if (readlinkSync(`/proc/${x.n}/ns/uts`) !== readlinkSync(`/proc/${info.parent}/ns/uts`)) {
      const ns = (pid: number, type: string) => objects.get((task(pid).namespaces as Record<string, number>)[type]!)!.key;
      for (const type of ['uts', 'ipc', 'net']) expect(ns(x.n, type)).not.toBe(ns(info.parent, type));
    }

    const files = rs.filter((r) => r.record === 'file');
    expect(new Set(files.map((f) => f.type))).toEqual(new Set(['reg', 'dir', 'chr', 'fifo', 'pipe', 'socket', 'eventfd', 'epoll', 'timerfd', 'signalfd', 'inotify', 'memfd']));
    // 64-bit values as text, exactly: a position above 2^53, the vsyscall page above 2^63 (where the kernel has one)
    expect(objects.get(fileOf(info.parent, info.fds.memfd) as number)!.pos).toBe(String(2n ** 60n + 1n));
    const vsyscall = /^([0-9a-f]+)-([0-9a-f]+) .*\[vsyscall\]$/m.exec(readFileSync(`/proc/${info.parent}/maps`, 'utf8'));
    if (vsyscall) expect(rs).toContainEqual(expect.objectContaining({ record: 'map', mm: task(info.parent).mm, start: vsyscall[1], end: vsyscall[2] }));
    const odd = objects.get(fileOf(info.parent, x.fds.odd) as number)!;
    expect(odd.path).toMatch(/\/odd name\n"quoted" .*\.txt$/);
    const sockets = rs.filter((r) => r.record === 'object' && r.kind === 'socket').map((s) => s.socket as Rec);
    expect(new Set(sockets.map((s) => `${String(s.family)} ${String(s.type)} ${String(s.state)}`))).toEqual(new Set([
      'unix stream ESTABLISHED', 'unix dgram UNCONNECTED', 'inet stream LISTEN', 'inet stream ESTABLISHED', 'inet dgram UNCONNECTED',
    ]));
    expect(sockets.find((s) => s.type === 'dgram' && s.family === 'unix')!.localAddr).toBe(`@ckptdb-test-${info.parent}`);
    const maps = rs.filter((r) => r.record === 'map' && r.mm === task(info.parent).mm);
    expect(maps.filter((m) => m.path === `${info.dir}/mapped`).map((m) => m.attrs)).toEqual([{ deleted: true }]);
    expect(maps).toHaveLength(readFileSync(`/proc/${info.parent}/maps`, 'utf8').trimEnd().split('\n').length);
  });

  it.each(FORMATS)('%s: export then import diffs as identical, and exporting the copy gives the same bytes', async (format) => {
    const { db, id } = await captureTree();
    await roundTrip(db, id, format);
  });

  it('survive a capture taken frozen and with environments, in every format', async () => {
    const { db, id, info, stderr } = await captureTree(['--freeze', '--with-env']);
    expect(stderr).toMatch(/froze \d+ processes/);
    const copies = [];
    for (const format of FORMATS) copies.push(await roundTrip(db, id, format));
    const store = openStore(db, { create: false });
    try {
      for (const copy of copies) {
        expect(store.getCheckpoint(copy).frozen).toBe(1);
        const env = store.db.prepare('SELECT env FROM tasks WHERE checkpoint_id = ? AND pid = ?').pluck().get(copy, info.parent) as string;
        expect(JSON.parse(env)).toEqual(readFileSync(`/proc/${info.parent}/environ`, 'utf8').split('\0').slice(0, -1));
      }
    } finally {
      store.close();
    }
  });

  it('move between stores through a pipe: NDJSON to stdout, import from stdin, diff across the two files', async () => {
    const { db, id } = await captureTree();
    const other = tempStorePath();
    const out = await runCli(['export', String(id), '--format', 'image-ndjson'], { db });
    expect(out.code, out.stderr).toBe(0);
    const r = await runCli(['import', '-'], { db: other, input: out.stdout });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\n');
    await expectIdentical(db, id, 1, other);
    const again = await runCli(['export', '1', '--format', 'image-ndjson'], { db: other });
    expect(firstDifference(withoutIdAndTime(again.stdout), withoutIdAndTime(out.stdout))).toBeNull();
  });
});

/**
 * A capture of every process of this machine is the biggest and messiest input there
 * is: hundreds of processes appearing and ending while they are read, kernel threads,
 * threads, several namespaces. The tree format is left out here: a file per value makes
 * hundreds of thousands of files, minutes on a shared machine, and the format's code
 * is the same as for the spawned tree above.
 */
describe('restore images of the whole machine', () => {
  it('capture --all: both forms valid and in restore order; the round trip of the document', async () => {
    const db = tempStorePath();
    const r = await runCli(['capture', '--all'], { db });
    expect(r.code, r.stderr).toBe(0);
    const id = Number(r.stdout);
    const rs = await checkedImage(db, id);
    const tasks = rs.filter((t) => t.record === 'task');
    expect(tasks.some((t) => t.pid !== t.tgid)).toBe(true);
    expect(tasks.some((t) => t.pid === 1)).toBe(true);
    expect(rs.filter((o) => o.record === 'object' && o.kind === 'ns').length).toBeGreaterThan(1);
    await roundTrip(db, id, 'image');
  }, 300_000);

  it.skipIf(!isRoot)('capture --all as nobody: unreadable parts and inferred sharing everywhere, the same', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    chmodSync(dir, 0o777);
    const r = await runCli(['capture', '--all'], { db, command: cliAs(['--reuid', NOBODY, '--regid', NOBODY]) });
    expect(r.code, r.stderr).toBe(0);
    const id = Number(r.stdout);
    const rs = await checkedImage(db, id);
    expect(rs.some((t) => t.record === 'task' && t.unreadable !== null)).toBe(true);
    expect(rs.some((o) => o.record === 'object' && o.inferred === true)).toBe(true);
    await roundTrip(db, id, 'image-ndjson');
  }, 300_000);
});
