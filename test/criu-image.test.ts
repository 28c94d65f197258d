/**
 * The restore image (and the tree) of a checkpoint imported from CRIU: it carries every
 * file CRIU wrote, so export, import and export --format criu give back the same CRIU
 * images; and what the image says of those files is checked before any of it is written.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { checkpointContent } from './helpers/checkpointRows.js';
import { cliJson, criuFilesOf, imported, okCli, query } from './helpers/criuCli.js';
import { critDecode } from './helpers/criuFixture.js';
import { runCli } from './helpers/cli.js';
import { restoreOrderViolations } from './helpers/imageOrder.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

type Rec = Record<string, unknown>;

const FILES_SQL = 'SELECT name, kind, role, head_magic, size, entries FROM criu_images WHERE checkpoint_id = :c ORDER BY name';

/** Every table of the store, CRIU's included: what a refused import must leave as it was. */
function allRowCounts(store: Store): Record<string, number> {
  const tables = store.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  return Object.fromEntries(tables.map((t) => [t, store.db.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number]));
}

/** crit's decode of the fixture's images, made once for the file. */
const fixtureDecoded = new Map<string, Promise<string>>();

/** Expects a directory to hold what the fixture does: the same files, byte for byte, and the same images to crit. */
async function expectFixture(dir: string): Promise<void> {
  expect(readdirSync(dir).sort()).toEqual(readdirSync(fixtureDir()).sort());
  for (const name of readdirSync(fixtureDir())) {
    expect(readFileSync(join(dir, name)).equals(readFileSync(join(fixtureDir(), name))), name).toBe(true);
    if (!name.endsWith('.img') || name.startsWith('pages-')) continue;
    if (!fixtureDecoded.has(name)) fixtureDecoded.set(name, critDecode(join(fixtureDir(), name)));
    expect(await critDecode(join(dir, name)), name).toBe(await fixtureDecoded.get(name));
  }
}

describe.skipIf(skipWithout(CRIT))('the restore image of a CRIU checkpoint', () => {
  for (const [format, out] of [['image', 'ck.json'], ['image-ndjson', 'ck.ndjson'], ['tree', 'trees']] as const) {
    it(`${format}: export, import and export --format criu give back the same CRIU images and the same rows`, async () => {
      const db = tempStorePath();
      const original = await imported(db, fixtureDir());
      const path = join(tempDir(), out);
      await okCli(db, ['export', String(original), '--format', format, '--out', path]);
      const copy = await imported(db, format === 'tree' ? join(path, `checkpoint-${original}`) : path);

      const store = openStore(db);
      expect(checkpointContent(store, copy)).toEqual(checkpointContent(store, original));
      store.close();
      expect(await query(db, FILES_SQL, copy)).toEqual(await query(db, FILES_SQL, original));
      // The copy's files are made of the chunks the original's are: it added no bytes.
      const shown = await cliJson<{ criu: { chunks: number; sharedChunks: number } }>(db, ['show', String(copy)]);
      expect(shown.criu.sharedChunks).toBe(shown.criu.chunks);
      expect(await runCli(['verify'], { db })).toMatchObject({ code: 0 });
      const diff = await runCli(['diff', String(original), String(copy)], { db });
      expect(diff.code, diff.stdout + diff.stderr).toBe(0);
      expect(diff.stdout).toMatch(/\nidentical\n$/);

      const dump = join(tempDir(), 'dump');
      await okCli(db, ['export', String(copy), '--format', 'criu', '--out', dump]);
      await expectFixture(dump);
    });
  }

  it('writes each chunk once, before the first file that holds it, after every other record', async () => {
    const db = tempStorePath();
    const id = await imported(db, fixtureDir());
    const text = (await okCli(db, ['export', String(id), '--format', 'image-ndjson'])).stdout;
    const records = text.trimEnd().split('\n').slice(1, -1).map((l) => JSON.parse(l) as Rec);
    const firstCriu = records.findIndex((r) => r.record === 'criuChunk');
    expect(records.slice(firstCriu).every((r) => r.record === 'criuChunk' || r.record === 'criuImage')).toBe(true);
    expect(restoreOrderViolations(records.slice(0, firstCriu))).toEqual([]);

    const chunks = records.filter((r) => r.record === 'criuChunk');
    const files = records.filter((r) => r.record === 'criuImage');
    const onDisk = criuFilesOf(fixtureDir());
    expect(chunks.map((c) => c.id)).toEqual(chunks.map((_, i) => i + 1));
    expect(chunks.length).toBe(onDisk.chunks);
    // Two fs images hold the same bytes, so files use more chunks than there are.
    expect(files.reduce((n, f) => n + (f.chunks as number[]).length, 0)).toBeGreaterThan(chunks.length);
    const defined = new Map<number, Buffer>();
    for (const r of records.slice(firstCriu)) {
      if (r.record === 'criuChunk') defined.set(r.id as number, Buffer.from(r.data as string, 'base64'));
      else expect(Buffer.concat((r.chunks as number[]).map((n) => defined.get(n)!)).equals(readFileSync(join(fixtureDir(), r.name as string))), r.name as string).toBe(true);
    }
    expect(files.map((f) => f.name)).toEqual(readdirSync(fixtureDir()).sort());
  });
});

/** The fixture's image as NDJSON records, to be changed and imported again. */
async function fixtureRecords(db: string): Promise<Rec[]> {
  const id = await imported(db, fixtureDir());
  const text = (await okCli(db, ['export', String(id), '--format', 'image-ndjson'])).stdout;
  return text.trimEnd().split('\n').slice(1, -1).map((l) => JSON.parse(l) as Rec);
}

const fileNamed = (rs: Rec[], name: string) => rs.find((r) => r.record === 'criuImage' && r.name === name)!;
const chunkNumbered = (rs: Rec[], id: number) => rs.find((r) => r.record === 'criuChunk' && r.id === id)!;

describe.skipIf(skipWithout(CRIT))('import of an image refuses what it says wrongly of CRIU files, and writes nothing', () => {
  const cases: [string, (rs: Rec[]) => Rec[], RegExp][] = [
    ['a file whose bytes are no CRIU image', (rs) => {
      const chunk = chunkNumbered(rs, (fileNamed(rs, 'fs-120.img').chunks as number[])[0]!);
      const bytes = Buffer.from(chunk.data as string, 'base64');
      bytes.fill(0xff, 12);
      chunk.data = bytes.toString('base64');
      return rs;
    }, /: line \d+: \/chunks: fs-120\.img: entry does not decode as opaque_entry: .* at byte 8$/],
    ['a size its chunks do not add up to', (rs) => {
      fileNamed(rs, 'dump.log').size = 15;
      return rs;
    }, /: line \d+: \/size: is 15, but the chunks hold 14 bytes$/],
    ['a chunk no file uses', (rs) => rs.filter((r) => r !== fileNamed(rs, 'dump.log')), /: line \d+: \/id: chunk \d+ is used by no criuImage record$/],
    ['a chunk used before it is defined', (rs) => {
      const file = fileNamed(rs, 'core-100.img');
      const at = rs.indexOf(file);
      return [...rs.slice(0, at - 1), file, rs[at - 1]!, ...rs.slice(at + 1)];
    }, /: line \d+: \/chunks\/0: refers to chunk 1, which is not defined before this record$/],
    ['a short chunk that is not the last', (rs) => {
      const pages = fileNamed(rs, 'pages-1.img');
      const log = (fileNamed(rs, 'dump.log').chunks as number[])[0]!;
      pages.chunks = [log, ...(pages.chunks as number[]).slice(1)];
      return rs;
    }, /: line \d+: \/chunks\/0: chunk \d+ holds 14 bytes; every chunk but a file's last holds 4096$/],
    ['a name that would leave the directory', (rs) => {
      fileNamed(rs, 'dump.log').name = '../dump.log';
      return rs;
    }, /: line \d+: \/name: "\.\.\/dump\.log" is not a plain file name: it holds a \/$/],
    ['a file named twice', (rs) => {
      fileNamed(rs, 'dump.log').name = 'stats-dump';
      return rs;
    }, /: line \d+: \/name: the file "stats-dump" appears twice$/],
    ['an image of another kind than its name says', (rs) => {
      fileNamed(rs, 'core-100.img').kind = 'FDINFO';
      return rs;
    }, /: line \d+: \/role: core-100\.img is no image ckptdb models as FDINFO$/],
    ['chunk data that is not base64', (rs) => {
      chunkNumbered(rs, 1).data = 'not base64!';
      return rs;
    }, /: line \d+: \/data: must be base64$/],
    ['CRIU files in a checkpoint of another source', (rs) => {
      rs[0] = { ...rs[0], source: 'proc' };
      return rs;
    }, /: line \d+: \/record: CRIU's files belong to a checkpoint of source criu, and this one is of source proc$/],
  ];
  for (const [what, change, message] of cases) {
    it(what, async () => {
      const db = tempStorePath();
      const rs = change(await fixtureRecords(db));
      const path = join(tempDir(), 'bad.ndjson');
      writeFileSync(path, [{ format: 'ckptdb-image', version: 1 }, ...rs, { record: 'end', records: rs.length }].map((r) => JSON.stringify(r)).join('\n') + '\n');
      let store = openStore(db);
      const before = allRowCounts(store);
      store.close();
      const r = await runCli(['import', path], { db });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^ckptdb: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${message.source.slice(0, -1)}\\n$`));
      store = openStore(db);
      expect(allRowCounts(store)).toEqual(before);
      store.close();
    });
  }
});
