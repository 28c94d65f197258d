import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { importCriu } from '../src/formats/criu/index.js';
import { FIXTURE_IMAGES, writeImages } from './helpers/criuFixture.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

const TABLES = ['checkpoints', 'shared_objects', 'files', 'tasks', 'fds', 'maps', 'sockets', 'task_namespaces', 'task_rlimits', 'criu_images', 'criu_chunks', 'criu_image_chunks'];

function counts(store: Store): Record<string, number> {
  return Object.fromEntries(TABLES.map((t) => [t, store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number]));
}

/** A copy of the fixtureDir() with one change, imported into a store that already holds the fixtureDir() once. */
async function importBroken(change: (dir: string) => void | Promise<void>): Promise<{ error: unknown; dir: string; unchanged: boolean }> {
  const dir = tempDir();
  cpSync(fixtureDir(), dir, { recursive: true });
  await change(dir);
  const store = openStore(tempStorePath());
  await importCriu(store, fixtureDir());
  const before = counts(store);
  let error: unknown = null;
  try {
    await importCriu(store, dir);
  } catch (e) {
    error = e;
  }
  const unchanged = JSON.stringify(counts(store)) === JSON.stringify(before);
  store.close();
  return { error, dir, unchanged };
}

const patch = (dir: string, name: string, edit: (b: Buffer) => Buffer) => writeFileSync(join(dir, name), edit(readFileSync(join(dir, name))));

describe.skipIf(skipWithout(CRIT))('importCriu refuses bad images with one line naming the file and offset, and writes nothing', () => {
  const cases: [string, (dir: string) => void | Promise<void>, RegExp][] = [
    ['an unknown image type', (d) => patch(d, 'pagemap-110.img', (b) => { b.writeUInt32LE(0x12345678, 4); return b; }), /pagemap-110\.img: unknown image type: magic 0x12345678 at byte 4$/],
    ['a wrong magic for the file name', (d) => cpSync(join(d, 'fdinfo-2.img'), join(d, 'core-110.img')), /core-110\.img: holds a FDINFO image where CORE belongs at byte 4$/],
    ['a truncated file', (d) => patch(d, 'files.img', (b) => b.subarray(0, b.length - 7)), /files\.img: truncated: entry of \d+ bytes, \d+ left at byte \d+$/],
    ['a truncated stored image', (d) => patch(d, 'pipes-data.img', (b) => b.subarray(0, b.length - 2)), /pipes-data\.img: truncated: entry announces 6 bytes of data, 4 left at byte 8$/],
    ['a file shorter than a magic', (d) => patch(d, 'ids-110.img', (b) => b.subarray(0, 3)), /ids-110\.img: truncated: 3 bytes, not even a magic number at byte 0$/],
    ['a protobuf that does not decode', (d) => patch(d, 'fs-110.img', (b) => { b.fill(0xff, 12); return b; }), /fs-110\.img: entry does not decode as fs_entry: .* at byte 8$/],
    ['a message without a required field', async (d) => writeImages(d, { 'fs-120.img': { magic: 'FS', entries: [{ cwd_id: 7, root_id: 1 }] } }).then(() => patch(d, 'fs-120.img', (b) => Buffer.concat([b.subarray(0, 8), Buffer.from([2, 0, 0, 0, 0x08, 7])]))), /fs-120\.img: fs_entry lacks its required field root_id at byte 8$/],
    ['a newer image version', (d) => writeImages(d, { 'inventory.img': { magic: 'INVENTORY', entries: [{ img_version: 3, fdinfo_per_id: true }] } }), /inventory\.img: image version 3 is newer than this ckptdb reads \(2\) at byte 4$/],
    ['an fd of a file no image holds', (d) => writeImages(d, { 'fdinfo-22.img': { magic: 'FDINFO', entries: [{ id: 99, flags: 0, type: 'REG', fd: 3 }] } }), /fdinfo-22\.img: fd 3 refers to file id 99, which no file image holds at byte 8$/],
    ['a thread without its core image', (d) => rmSync(join(d, 'core-102.img')), /pstree\.img: thread 102 of process 100 has no core-102\.img at byte \d+$/],
    ['a pid listed twice', (d) => writeImages(d, { 'pstree.img': { magic: 'PSTREE', entries: [...FIXTURE_IMAGES['pstree.img']!.entries, { pid: 150, ppid: 100, pgid: 100, sid: 100, threads: [150, 110] }] } }), /pstree\.img: pid 110 appears twice at byte \d+$/],
    ['no inventory', (d) => rmSync(join(d, 'inventory.img')), /inventory\.img: missing: a CRIU image directory starts with inventory\.img at byte 0$/],
  ];
  for (const [what, change, message] of cases) {
    it(what, async () => {
      const { error, unchanged } = await importBroken(change);
      expect(error).toMatchObject({ name: 'CkptdbError', code: 'BAD_IMAGE' });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
      expect(unchanged).toBe(true);
    });
  }

  it('says what a path that is no CRIU checkpoint is', async () => {
    const store = openStore(tempStorePath());
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, 'hello');
    await expect(importCriu(store, file)).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: `${file} is neither a CRIU image directory nor a .tar, .tar.gz or .tar.zst checkpoint archive` });
    await expect(importCriu(store, join(tempDir(), 'missing'))).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^cannot read .*missing: ENOENT$/) });
    expect(store.listCheckpoints()).toEqual([]);
    store.close();
  });

  it('refuses an image directory that holds the store itself', async () => {
    const dir = tempDir();
    cpSync(fixtureDir(), dir, { recursive: true });
    const store = openStore(join(dir, 'store.sqlite'));
    await expect(importCriu(store, dir)).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
      message: `${dir} holds the store ${join(dir, 'store.sqlite')}: an image directory is read whole, so the store must live elsewhere`,
    });
    expect(store.listCheckpoints()).toEqual([]);
    store.close();
  });
});
