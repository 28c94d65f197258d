import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportTree, importTree, openStore } from '../src/index.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { checkpointContent, storeRowCounts } from './helpers/checkpointRows.js';
import { CLI, runCli } from './helpers/cli.js';
import { treeFiles } from './helpers/exported.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

function setup() {
  const db = tempStorePath();
  const store = openStore(db);
  const id = shapesCheckpoint(store, { orphans: true });
  store.close();
  return { db, id, dir: tempDir() };
}

const read = (...parts: string[]) => readFileSync(join(...parts), 'utf8');

describe("the proposal's tree", () => {
  it('lays a checkpoint out as task-PID/fds/N/{fd_nr,coe,fd} pointing into files/K/{fd_type,target,f_pos,...}', async () => {
    const { db, id, dir } = setup();
    const r = await runCli(['export', String(id), '--format', 'tree', '--out', dir], { db });
    expect(r.code).toBe(0);
    const root = join(dir, `checkpoint-${id}`);
    expect(r.stderr).toBe(`exported checkpoint 1 to ${root} (59 records)\n`);
    expect(read(root, 'format')).toBe('ckptdb-tree');
    expect(read(root, 'done')).toBe('');
    expect(read(root, 'label')).toBe('shapes');
    expect(read(root, 'frozen')).toBe('1');

    // fd 3 of the parent: the read end of the pipe, shared with the child.
    const slot = join(root, 'task-100', 'fds', '3');
    expect([read(slot, 'fd_nr'), read(slot, 'coe'), read(slot, 'fd')]).toEqual(['3', '0', '9']);
    const file = join(root, 'files', read(slot, 'fd'));
    expect(['fd_type', 'target', 'f_pos', 'f_flags', 'f_mode', 'refcount'].map((f) => read(file, f))).toEqual(['pipe', 'pipe:[777]', '0', '0', String(0o10600), '3']);
    expect(read(root, 'objects', read(file, 'object'), 'kind')).toBe('pipe');
    expect(read(root, 'task-200', 'fds', '3', 'fd')).toBe('9');
    // 64-bit values exactly, and null as a missing file.
    expect(read(root, 'files', '12', 'f_pos')).toBe('4611686018427400249');
    expect(existsSync(join(root, 'files', '14', 'f_pos'))).toBe(false);
    expect(read(root, 'objects', '1', 'maps', 'ffffffffff600000', 'end')).toBe('ffffffffff601000');

    // The thread shares its process's fd table: its fds are the same directory.
    expect(lstatSync(join(root, 'task-101', 'fds')).isSymbolicLink()).toBe(true);
    expect(realpathSync(join(root, 'task-101', 'fds'))).toBe(realpathSync(join(root, 'task-100', 'fds')));
    expect(read(root, 'task-101', 'fdtable')).toBe(read(root, 'task-100', 'fdtable'));
    // Task attributes, namespaces, resource limits.
    expect(JSON.parse(read(root, 'task-100', 'cmdline'))).toEqual(['python3', '-c', 'print("hi, \\"you\\"")', '']);
    expect(read(root, 'task-100', 'ns', 'pid_for_children')).toBe(read(root, 'task-100', 'ns', 'pid'));
    expect(read(root, 'task-100', 'rlimits', 'nofile', 'hard')).toBe('1048576');
    expect(existsSync(join(root, 'task-100', 'rlimits', 'stack', 'hard'))).toBe(false);
    expect(read(root, 'objects', '15', 'socket', 'local_port')).toBe('8080');

    // Owner-only, as the store.
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(file, 'target')).mode & 0o777).toBe(0o600);
  });

  it('writes done last', () => {
    const { db, id, dir } = setup();
    const trace = join(dir, 'trace');
    const out = join(dir, 'out');
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, CLI, '--db', db, 'export', String(id), '--format', 'tree', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const created = readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('O_CREAT') && l.includes(out));
    expect(created.length).toBeGreaterThan(300);
    expect(created.at(-1)).toContain(join(out, `checkpoint-${id}`, 'done"'));
  });

  // Live captures make this round trip in test/image-live.test.ts; this one holds what
  // no capture produces: objects no task reaches, values above 2^53 (see shapes.ts).
  it('imports back to the same checkpoint, and exports that to the same tree', async () => {
    const { db, id, dir } = setup();
    await runCli(['export', String(id), '--format', 'tree', '--out', dir], { db });
    const r = await runCli(['import', join(dir, `checkpoint-${id}`)], { db });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('2\n');
    // A directory holding one checkpoint tree is taken too.
    const r2 = await runCli(['import', dir, '--format', 'tree'], { db });
    expect(r2.stdout).toBe('3\n');
    const again = tempDir();
    await runCli(['export', '2', '--format', 'tree', '--out', again], { db });
    const a = treeFiles(join(dir, `checkpoint-${id}`));
    const b = treeFiles(join(again, 'checkpoint-2'));
    expect(a.get('finished_at')).not.toBe(b.get('finished_at'));
    a.delete('finished_at');
    b.delete('finished_at');
    expect(b).toEqual(a);
    const store = openStore(db);
    expect(checkpointContent(store, 2)).toEqual(checkpointContent(store, 1));
    expect(checkpointContent(store, 3)).toEqual(checkpointContent(store, 1));
    expect(store.verify()).toEqual([]);
    store.close();
  });

  it('refuses to export over a tree that exists, or without --out', async () => {
    const { db, id, dir } = setup();
    await runCli(['export', String(id), '--format', 'tree', '--out', dir], { db });
    const r = await runCli(['export', String(id), '--format', 'tree', '--out', dir], { db });
    expect(r.stderr).toBe(`ckptdb: ${join(dir, 'checkpoint-1')} already exists (remove it, or export into another directory)\n`);
    const r2 = await runCli(['export', String(id), '--format', 'tree'], { db });
    expect(r2.stderr).toBe('ckptdb: --format tree writes a directory: name it with --out DIR\n');
    expect([r.code, r2.code]).toEqual([2, 2]);
  });
});

/** A change to a good tree and the one line import answers it with (the path below the tree root). */
const BAD: [string, (root: string) => void, string][] = [
  ['a tree without done', (root) => rmSync(join(root, 'done')), ': has no done file: the tree was never finished (or is still being written)'],
  ['a value that is not a number', (root) => writeFileSync(join(root, 'files', '12', 'f_flags'), '12x'), '/files/12/f_flags: "12x" is not an integer'],
  ['a 64-bit value out of range', (root) => writeFileSync(join(root, 'files', '12', 'f_pos'), '9223372036854775808'), '/files/12/f_pos: must be a 64-bit integer (-2^63 .. 2^63-1)'],
  ['a dangling id', (root) => writeFileSync(join(root, 'task-200', 'mm'), '99'), '/task-200/mm: refers to object 99, which is not defined before this record'],
  ['an id of the wrong kind', (root) => writeFileSync(join(root, 'objects', '2', 'fds', '3', 'fd'), '8'), '/objects/2/fds/3/fd: refers to object 8, a pipe; expected an open file'],
  ['a refcount that disagrees', (root) => writeFileSync(join(root, 'objects', '8', 'refcount'), '3'), '/objects/8/refcount: object 8 has refcount 3, but 2 references in the image point to it'],
  ['a missing required value', (root) => rmSync(join(root, 'objects', '8', 'kind')), '/objects/8/kind: is missing'],
  ['a gap in the ids', (root) => rmSync(join(root, 'objects', '31'), { recursive: true }), '/objects/32: object ids run 1, 2, 3 ... without gaps, and 31 is missing'],
  ['a stray file', (root) => writeFileSync(join(root, 'task-100', 'notes'), 'x'), '/task-100/notes: is not part of this record'],
  ['a slot that names another fd', (root) => writeFileSync(join(root, 'objects', '2', 'fds', '3', 'fd_nr'), '4'), '/objects/2/fds/3/fd_nr: says 4, but the slot is fds/3'],
  ['malformed JSON', (root) => writeFileSync(join(root, 'task-100', 'cmdline'), '["a",'), `/task-100/cmdline: malformed JSON: ${jsonError('["a",')}`],
  ['a boolean that is not 0 or 1', (root) => writeFileSync(join(root, 'objects', '2', 'fds', '3', 'coe'), 'yes'), '/objects/2/fds/3/coe: "yes" is not 0 or 1'],
  ['a parent after its child', (root) => writeFileSync(join(root, 'task-100', 'ppid'), '300'), '/task-300: task 300 comes after its child task 100: parents come first'],
];

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('tree import refuses what is wrong with one line, and writes nothing', () => {
  it.each(BAD)('%s', async (_name, change, message) => {
    const { db, id, dir } = setup();
    await runCli(['export', String(id), '--format', 'tree', '--out', dir], { db });
    const root = join(dir, `checkpoint-${id}`);
    const bad = join(tempDir(), `checkpoint-${id}`);
    cpSync(root, bad, { recursive: true, verbatimSymlinks: true });
    change(bad);
    const store = openStore(db);
    const before = storeRowCounts(store);
    store.close();
    const r = await runCli(['import', bad], { db });
    expect(r.stderr).toBe(`ckptdb: ${bad}${message}\n`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const after = openStore(db);
    expect(storeRowCounts(after)).toEqual(before);
    after.close();
  });

  it('through the library too: importTree and exportTree', async () => {
    const { db, id, dir } = setup();
    const store = openStore(db);
    const { path, records } = exportTree(store, id, dir);
    expect(records).toBe(59);
    const r = await importTree(store, path);
    expect(checkpointContent(store, r.checkpointId)).toEqual(checkpointContent(store, id));
    rmSync(join(path, 'done'));
    await expect(importTree(store, path)).rejects.toThrow(/has no done file/);
    expect(store.listCheckpoints()).toHaveLength(2);
    store.close();
  });
});
