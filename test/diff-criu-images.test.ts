/**
 * diff of CRIU checkpoints whose image files differ where the tables cannot see it:
 * memory pages, registers in core-N.img, a kept image, files added or gone. The
 * fixture directory (made by crit encode) is imported as it is and as a changed copy;
 * the built CLI must report exactly the changed file, with its chunk count and size.
 */
import { appendFileSync, cpSync, openSync, closeSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DiffDocument } from '../src/index.js';
import { DiffWork, SQL } from '../src/query/diff/compute.js';
import { openDiffConnection } from '../src/query/diff/connection.js';
import { selectFields } from '../src/query/diff/fields.js';
import { statement } from '../src/store/sqlFile.js';
import { imported } from './helpers/criuCli.js';
import { FIXTURE_IMAGES, writeImages } from './helpers/criuFixture.js';
import { runCli } from './helpers/cli.js';
import { outline } from './helpers/diff.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

/** A copy of the fixture directory, changed by `change`. */
async function changedCopy(change: (dir: string) => void | Promise<void>): Promise<string> {
  const dir = join(tempDir(), 'dump');
  cpSync(fixtureDir(), dir, { recursive: true });
  await change(dir);
  return dir;
}

/** Writes bytes into a file at an offset, keeping its size. */
function overwrite(path: string, at: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

interface Diffed {
  code: number;
  doc: DiffDocument;
  /** The text output after its two header lines. */
  text: string;
}

/** `ckptdb diff A B` in both formats, with the same exit status from each. */
async function diff(db: string, a: number, b: number, ...args: string[]): Promise<Diffed> {
  const text = await runCli(['diff', String(a), String(b), ...args], { db });
  const json = await runCli(['diff', String(a), String(b), ...args, '--format', 'json'], { db });
  expect(text.stderr + json.stderr).toBe('');
  expect(json.code).toBe(text.code);
  return { code: text.code, doc: JSON.parse(json.stdout) as DiffDocument, text: text.stdout.split('\n').slice(2).join('\n') };
}

const SUMMARY_SAME = [
  'tasks    0 added, 0 removed, 0 changed',
  'fds      0 added, 0 removed, 0 changed',
  'maps     0 added, 0 removed, 0 changed',
  'objects  0 added, 0 removed, 0 changed',
];

/** The text of a diff where only images differ. */
function imagesOnly(counts: string, ...lines: string[]): string {
  return [...SUMMARY_SAME, `images   ${counts}`, '', 'CRIU images', ...lines.map((l) => `  ${l}`), ''].join('\n');
}

/** Imports the fixture and `dir` into a fresh store: checkpoints 1 and 2. */
async function importedPair(dir: string): Promise<string> {
  const db = tempStorePath();
  expect(await imported(db, fixtureDir())).toBe(1);
  expect(await imported(db, dir)).toBe(2);
  return db;
}

describe.skipIf(skipWithout(CRIT))('ckptdb diff of CRIU image files', () => {
  it('finds two imports of one directory identical, the images kind empty', async () => {
    const db = tempStorePath();
    await imported(db, fixtureDir());
    await imported(db, fixtureDir());
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(0);
    expect(r.text).toBe([...SUMMARY_SAME, 'images   0 added, 0 removed, 0 changed', 'identical', ''].join('\n'));
    expect(r.doc.kinds).toContain('images');
    expect(r.doc.images).toEqual({ added: [], removed: [], changed: [] });
    expect(r.doc.identical).toBe(true);
  });

  it('reports a page whose bytes changed as one chunk of its pages image and one page of the map it is in, and nothing else', async () => {
    const dir = await changedCopy((d) => overwrite(join(d, 'pages-1.img'), 4096 + 100, Buffer.from('changed')));
    const db = await importedPair(dir);
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(1);
    expect(outline(r.doc)).toEqual(['maps changed 100@0000000000602000 pages null→1', 'images changed pages-1.img content null→1']);
    expect(r.text).toBe(
      [
        ...SUMMARY_SAME.map((l) => l.replace('maps     0 added, 0 removed, 0 changed', 'maps     0 added, 0 removed, 1 changed')),
        'images   0 added, 0 removed, 1 changed', '',
        'process 100 server', '  ~ map 0000000000602000: 1 page differs', '',
        'CRIU images', '  ~ image pages-1.img: 1 chunk differs', '',
      ].join('\n'),
    );
    expect(r.doc.summary.images).toEqual({ added: 0, removed: 0, changed: 1 });

    const ignored = await diff(db, 1, 2, '--ignore', 'images.content,maps.pages');
    expect(ignored.code).toBe(0);
    expect(ignored.doc.images!.changed).toEqual([]);
  });

  it('counts every page that differs, and a page appended as a change of size too', async () => {
    const dir = await changedCopy((d) => {
      overwrite(join(d, 'pages-1.img'), 0, Buffer.alloc(4096, 7));
      overwrite(join(d, 'pages-1.img'), 2 * 4096 + 4095, Buffer.from([0xff]));
      appendFileSync(join(d, 'pages-2.img'), Buffer.alloc(4096, 9));
    });
    const db = await importedPair(dir);
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(1);
    // the page appended to pages-2.img is in no page map: no map holds it
    expect(outline(r.doc)).toEqual([
      'maps changed 100@0000000000602000 pages null→1',
      'maps changed 100@00007ffd00000000 pages null→1',
      'images changed pages-1.img content null→2',
      'images changed pages-2.img size 4096→8192 content null→1',
    ]);
    expect((await diff(db, 1, 2, '--only', 'tasks,fds,objects,images')).text).toBe(imagesOnly('0 added, 0 removed, 2 changed',
      '~ image pages-1.img: 2 chunks differ',
      '~ image pages-2.img: 1 chunk differs; size 4096 → 8192').replace(/^maps .*\n/m, ''));

    const sizeAside = await diff(db, 1, 2, '--only', 'images', '--ignore', 'size');
    expect(outline(sizeAside.doc)).toEqual([
      'images changed pages-1.img content null→2',
      'images changed pages-2.img content null→1',
    ]);
    expect(sizeAside.doc.kinds).toEqual(['images']);
  });

  it('sees registers in core-N.img, which no table holds', async () => {
    const core = structuredClone(FIXTURE_IMAGES['core-101.img']!);
    const regs = (core.entries[0]!.thread_info as { gpregs: Record<string, unknown> }).gpregs;
    regs.ip = 0x404321n;
    const dir = await changedCopy((d) => writeImages(d, { 'core-101.img': core }));
    const db = await importedPair(dir);
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(1);
    expect(outline(r.doc)).toEqual(['images changed core-101.img content null→1']);
    expect(r.text).toBe(imagesOnly('0 added, 0 removed, 1 changed', '~ image core-101.img: 1 chunk differs'));
  });

  it('compares a kept image that is not modelled, and a file added and one gone', async () => {
    const tcp = structuredClone(FIXTURE_IMAGES['tcp-stream-1f42.img']!);
    (tcp.entries[0]!.extra as { inq: string }).inq = Buffer.from('xyz').toString('base64');
    const dir = await changedCopy(async (d) => {
      await writeImages(d, { 'tcp-stream-1f42.img': tcp });
      rmSync(join(d, 'pipes-data.img'));
      writeFileSync(join(d, 'hints.txt'), 'hints\n');
    });
    const db = await importedPair(dir);
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(1);
    expect(outline(r.doc)).toEqual([
      'images added hints.txt',
      'images removed pipes-data.img',
      'images changed tcp-stream-1f42.img content null→1',
    ]);
    expect(r.doc.images!.added[0]).toEqual({
      kind: 'images', status: 'added', key: { name: 'hints.txt' },
      values: { kind: null, role: 'other', size: 6, entries: null, content: 1 },
    });
    const gone = statSync(join(fixtureDir(), 'pipes-data.img')).size;
    expect(r.doc.images!.removed[0]!.values).toEqual({ kind: 'PIPES_DATA', role: 'stored', size: gone, entries: 1, content: 1 });
    expect(r.text).toBe(imagesOnly('1 added, 1 removed, 1 changed',
      '+ image hints.txt (role other, size 6)',
      `- image pipes-data.img (kind PIPES_DATA, role stored, size ${gone}, entries 1)`,
      '~ image tcp-stream-1f42.img: 1 chunk differs'));
  });

  it("leaves out CRIU's logs and statistics of the dump run, which differ between any two dumps", async () => {
    const stats = structuredClone(FIXTURE_IMAGES['stats-dump']!);
    (stats.entries[0]!.dump as { frozen_time: number }).frozen_time = 21;
    const dir = await changedCopy(async (d) => {
      await writeImages(d, { 'stats-dump': stats });
      appendFileSync(join(d, 'dump.log'), 'another run\n');
      writeFileSync(join(d, 'restore.log'), 'restore log\n');
    });
    const db = await importedPair(dir);
    const r = await diff(db, 1, 2);
    expect(r.code).toBe(0);
    expect(r.doc.summary.images).toEqual({ added: 0, removed: 0, changed: 0 });
  });

  it('compares against a checkpoint in another store file with --db-b, by chunk hash', async () => {
    const dir = await changedCopy((d) => overwrite(join(d, 'pages-1.img'), 8192, Buffer.from('other store')));
    const a = tempStorePath();
    const b = tempStorePath();
    // B's store holds other chunks first, so its chunk ids differ from A's for the same bytes.
    await imported(b, dir);
    await imported(b, fixtureDir());
    await imported(a, fixtureDir());
    const same = await diff(a, 1, 2, '--db-b', b);
    expect(same.code).toBe(0);
    expect(same.doc.images).toEqual({ added: [], removed: [], changed: [] });
    const changed = await diff(a, 1, 1, '--db-b', b);
    expect(changed.code).toBe(1);
    expect(outline(changed.doc)).toEqual(['maps changed 100@00007ffd00000000 pages null→1', 'images changed pages-1.img content null→1']);
  });

  it('plans the comparison of chunks as lookups by image and position, never a scan of the chunks', async () => {
    const dir = await changedCopy((d) => overwrite(join(d, 'pages-1.img'), 0, Buffer.from('x')));
    const db = await importedPair(dir);
    const conn = openDiffConnection({ a: db, b: db });
    try {
      new DiffWork(conn, { a: 1, b: 2 }, selectFields(undefined, undefined)).prepare(true);
      const plan = (conn.prepare(`EXPLAIN QUERY PLAN ${statement(SQL, 'images_removed_or_changed')}`).all({ a: 1, b: 2 }) as { detail: string }[])
        .map((r) => r.detail);
      expect(plan).toEqual(expect.arrayContaining([
        'SEARCH ca USING PRIMARY KEY (image_id=?)',
        'SEARCH cb USING PRIMARY KEY (image_id=? AND seq=?)',
        'SEARCH ha USING INTEGER PRIMARY KEY (rowid=?)',
        'SEARCH hb USING INTEGER PRIMARY KEY (rowid=?)',
      ]));
      // Only the few pairs of images are scanned.
      expect(plan.filter((d) => d.startsWith('SCAN') && d !== 'SCAN p')).toEqual([]);
    } finally {
      conn.close();
    }
  });

  it('names the kind and its fields in --help', async () => {
    const r = await runCli(['diff', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}images {3}kind role size entries content$/m);
    expect(r.stdout).toMatch(/tasks, fds, maps, objects,\s+images/);
    expect(r.stdout).toContain('--only images');
  });
});
