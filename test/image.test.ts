import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ImageReader, importImage, openStore, type ImageRecord } from '../src/index.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { checkpointContent, storeRowCounts } from './helpers/checkpointRows.js';
import { runCli } from './helpers/cli.js';
import { imageRecords as records, publishedSchema, schemaViolations, withoutIdAndTime } from './helpers/exported.js';
import { restoreOrderViolations } from './helpers/imageOrder.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

/** A store holding the shapes checkpoint (id 1), and a directory to write images into. */
function setup(opts: { orphans?: boolean } = { orphans: true }) {
  const db = tempStorePath();
  const store = openStore(db);
  const id = shapesCheckpoint(store, opts);
  store.close();
  return { db, id, dir: tempDir() };
}

async function cli(db: string, args: string[], input?: string) {
  return runCli(args, { db, ...(input !== undefined ? { input } : {}) });
}

/**
 * The round trip of live captures is test/image-live.test.ts. These keep to what no
 * capture of live processes produces, written through the writer as another source
 * could: objects no task reaches (an fd table no task uses, a file no fd holds, an
 * address space with maps and no task), start times and attributes above 2^53, an fd
 * near 2^31.
 */
describe('restore image round trip of what only the writer makes', () => {
  for (const [format, file] of [['image', 'ck.json'], ['image-ndjson', 'ck.ndjson']] as const) {
    it(`${format}: export, import and export again gives the same bytes and the same rows`, async () => {
      const { db, id, dir } = setup();
      const first = join(dir, file);
      const exported = await cli(db, ['export', String(id), '--format', format, '--out', first]);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toMatch(new RegExp(`^exported checkpoint 1 to ${first} \\(\\d+ records, \\d+ bytes\\)\\n$`));
      expect(statSync(first).mode & 0o777).toBe(0o600);

      const imported = await cli(db, ['import', first]);
      expect(imported.code).toBe(0);
      expect(imported.stdout).toBe('2\n');

      const again = await cli(db, ['export', '2', '--format', format]);
      expect(again.code).toBe(0);
      const before = readFileSync(first, 'utf8');
      expect(withoutIdAndTime(again.stdout)).toBe(withoutIdAndTime(before));
      expect(again.stdout).not.toBe(before);

      const store = openStore(db);
      expect(checkpointContent(store, 2)).toEqual(checkpointContent(store, 1));
      expect(store.verify()).toEqual([]);
      store.close();
    });
  }

  it('keeps 64-bit values exact: positions, inodes, start times and addresses above 2^53 and 2^63', async () => {
    const { db, id, dir } = setup();
    const path = join(dir, 'ck.json');
    await cli(db, ['export', String(id), '--out', path]);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('"pos":"4611686018427400249"');
    expect(text).toContain('"startTime":"1152921504606846983"');
    expect(text).toContain('"start":"ffffffffff600000","end":"ffffffffff601000"');
    expect(text).toContain('"attrs":{"size":"4611686018427387904"}');
    await cli(db, ['import', path]);
    const store = openStore(db);
    const pos = store.db.prepare("SELECT f.pos FROM files f JOIN shared_objects o ON o.id = f.id WHERE o.key = '100:5' ORDER BY f.id").safeIntegers().pluck().all();
    expect(pos).toEqual([2n ** 62n + 12345n, 2n ** 62n + 12345n]);
    const starts = store.db.prepare("SELECT start_time FROM tasks WHERE pid = 100 ORDER BY id").safeIntegers().pluck().all();
    expect(starts).toEqual([2n ** 60n + 7n, 2n ** 60n + 7n]);
    store.close();
  });

  it('imports the same document re-indented or on one line, through the streaming parser', async () => {
    const { db, id, dir } = setup();
    const path = join(dir, 'ck.json');
    await cli(db, ['export', String(id), '--out', path]);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const pretty = join(dir, 'pretty.json');
    const oneLine = join(dir, 'one.json');
    const reordered = join(dir, 'reordered.json');
    writeFileSync(pretty, JSON.stringify(doc, null, 2));
    writeFileSync(oneLine, JSON.stringify(doc));
    const { format, version, records: rs } = doc as { format: string; version: number; records: unknown[] };
    writeFileSync(reordered, JSON.stringify({ records: rs, version, format }, null, '\t'));
    for (const p of [pretty, oneLine, reordered]) {
      const r = await cli(db, ['import', p]);
      expect(r.stderr).toMatch(/^imported checkpoint \d+/);
      expect(r.code).toBe(0);
    }
    const store = openStore(db);
    const original = checkpointContent(store, 1);
    for (const copy of [2, 3, 4]) expect(checkpointContent(store, copy)).toEqual(original);
    store.close();
  });
});

describe('restore image order and schema', () => {
  it('lists the tree from its root, parents first, every object defined before its first reference', async () => {
    const { db, id } = setup();
    const r = await cli(db, ['export', String(id)]);
    const rs = records(r.stdout);
    expect(restoreOrderViolations(rs)).toEqual([]);
    expect(rs.filter((x) => x.record === 'task').map((x) => x.pid)).toEqual([100, 101, 200, 300]);
    // Each object once in full: ids 1..N, no object record repeated.
    const ids = rs.filter((x) => x.record === 'object' || x.record === 'file').map((x) => x.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    // What no task reaches comes last: the fd table no task uses, with its slots.
    expect(rs.at(-1)).toMatchObject({ record: 'map', start: '0000000000001000' });
    // The checker's rules hold for a tree given in an awkward order, too.
    const store = openStore(db);
    const w = store.beginCheckpoint({ source: 'proc' });
    const mm = w.addSharedObject({ kind: 'mm', key: 'mm' });
    for (const [pid, tgid, ppid] of [[50, 50, 40], [40, 40, 30], [41, 40, 30], [30, 30, 1], [60, 60, 50], [31, 30, 1]]) w.addTask({ pid: pid!, tgid: tgid!, ppid: ppid!, mm });
    const second = w.done().checkpointId;
    store.close();
    const r2 = await cli(db, ['export', String(second)]);
    const tasks = records(r2.stdout).filter((x) => x.record === 'task').map((x) => x.pid);
    expect(tasks).toEqual([30, 31, 40, 41, 50, 60]);
    expect(restoreOrderViolations(records(r2.stdout))).toEqual([]);
  });

  it("numbers objects with the image's own ids, whatever the store's row ids", async () => {
    const { db, id } = setup();
    const crowded = tempStorePath();
    const store = openStore(crowded);
    const w = store.beginCheckpoint({ source: 'proc' });
    for (let i = 0; i < 50; i++) w.addSharedObject({ kind: 'pipe', key: `pipe:[${i}]` });
    w.done();
    const later = shapesCheckpoint(store, { orphans: true });
    store.close();
    const a = await cli(db, ['export', String(id)]);
    const b = await cli(crowded, ['export', String(later)]);
    expect(withoutIdAndTime(b.stdout)).toBe(withoutIdAndTime(a.stdout));
  });

  it('every exported image, in both forms, validates against the published JSON Schema', async () => {
    // Live captures are validated in test/image-live.test.ts; this one holds values at
    // the edges of the schema's formats (addresses above 2^63, 64-bit text near 2^62).
    const { db, id } = setup();
    const doc = await cli(db, ['export', String(id)]);
    expect(schemaViolations(doc.stdout)).toEqual([]);
    const nd = await cli(db, ['export', String(id), '--format', 'image-ndjson']);
    expect(schemaViolations(nd.stdout)).toEqual([]);
    // And it says no to what is not an image.
    const schema = publishedSchema();
    const checkpoint = JSON.parse(nd.stdout.split('\n')[1]!) as object;
    expect(schema.record({ ...checkpoint, frozen: 'yes' })).toBe(false);
    expect(schema.record({ record: 'fd', fdtable: 1, fd: 3, cloexec: false, file: 2, extra: 1 })).toBe(false);
    expect(schemaViolations(nd.stdout.replace('{"record":"end","records":', '{"record":"end","records":1'))).toHaveLength(1);
  });

  it('refuses to export a tree whose ppids form a cycle, naming the tasks', async () => {
    const db = tempStorePath();
    const store = openStore(db);
    const w = store.beginCheckpoint({ source: 'proc' });
    w.addTask({ pid: 1, tgid: 1, ppid: 0 });
    w.addTask({ pid: 7, tgid: 7, ppid: 8 });
    w.addTask({ pid: 8, tgid: 8, ppid: 7 });
    w.done();
    store.close();
    const r = await cli(db, ['export', '1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('ckptdb: checkpoint 1: tasks 7, 8 descend from themselves (their ppids form a cycle), so they have no restore order\n');
  });
});

describe('the library reader', () => {
  it('yields the records of either form in restore order, from a path or a stream', async () => {
    const { db, id, dir } = setup();
    const path = join(dir, 'ck.ndjson');
    await cli(db, ['export', String(id), '--format', 'image-ndjson', '--out', path]);
    const fromPath: ImageRecord[] = [];
    const reader = new ImageReader(path);
    for await (const r of reader) fromPath.push(r);
    expect(reader.form).toBe('ndjson');
    expect(fromPath[0]).toMatchObject({ record: 'checkpoint', id: 1, label: 'shapes', source: 'proc', frozen: true });
    expect(fromPath.map((r) => r as unknown as Record<string, unknown>)).toEqual(records(readFileSync(path, 'utf8')));

    const doc = (await cli(db, ['export', String(id)])).stdout;
    const fromStream: ImageRecord[] = [];
    for await (const r of new ImageReader(Readable.from([doc.slice(0, 100), doc.slice(100)]))) fromStream.push(r);
    expect(fromStream).toEqual(fromPath);

    const store = openStore(db);
    const result = await importImage(store, Readable.from([doc]), { name: 'piped' });
    expect(result).toMatchObject({ checkpointId: 2, records: fromPath.length, form: 'document' });
    store.close();
  });
});

/** One mutation of a valid image and the one line import must answer it with. */
interface BadCase {
  name: string;
  mutate: (lines: string[]) => string[];
  error: (file: string, rs: Record<string, unknown>[]) => string;
}

/** The index of the first record matching: its JSON pointer is /records/INDEX. */
const at = (rs: Record<string, unknown>[], match: (r: Record<string, unknown>) => boolean) => rs.findIndex(match);
/** The line (0-based, in the document form) of the first record matching. */
const lineOf = (lines: string[], match: (r: Record<string, unknown>) => boolean) =>
  lines.findIndex((l, i) => i > 0 && l.startsWith('{') && match(JSON.parse(l.replace(/,$/, '')) as Record<string, unknown>));
const edit = (lines: string[], i: number, fn: (r: Record<string, unknown>) => unknown) => {
  const comma = lines[i]!.endsWith(',');
  const r = JSON.parse(lines[i]!.replace(/,$/, '')) as Record<string, unknown>;
  const copy = [...lines];
  copy[i] = JSON.stringify(fn(r) ?? r) + (comma ? ',' : '');
  return copy;
};

const BAD: BadCase[] = [
  {
    name: 'a version this ckptdb does not read',
    mutate: (l) => [l[0]!.replace('"version":1', '"version":2'), ...l.slice(1)],
    error: (f) => `${f}: /version: 2 is not a version this ckptdb reads (it reads 1)`,
  },
  {
    name: 'another format',
    mutate: (l) => [l[0]!.replace('ckptdb-image', 'criu-image'), ...l.slice(1)],
    error: (f) => `${f}: /format: is "criu-image", not "ckptdb-image": this is not a ckptdb image`,
  },
  {
    name: 'a dangling id',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'fd' && r.fd === 5), (r) => ({ ...r, file: 999 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'fd' && r.fd === 5)}/file: refers to object 999, which is not defined before this record`,
  },
  {
    name: 'a reference before its definition',
    mutate: (l) => {
      const file = lineOf(l, (r) => r.record === 'file' && r.id === 9);
      const copy = [...l];
      [copy[file], copy[file + 1]] = [copy[file + 1]!, copy[file]!];
      return copy;
    },
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'file' && r.id === 9)}/file: refers to object 9, which is not defined before this record`,
  },
  {
    name: 'a refcount larger than the references',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'file' && r.id === 9), (r) => ({ ...r, refcount: 4 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'file' && r.id === 9)}/refcount: object 9 has refcount 4, but 3 references in the image point to it`,
  },
  {
    name: 'a refcount smaller than the references',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'object' && r.kind === 'pipe'), (r) => ({ ...r, refcount: 1 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'file' && r.id === 10)}/object: refers to object 8, whose refcount 1 is already used up by earlier references`,
  },
  {
    name: 'a field of the wrong type',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'file' && r.id === 12), (r) => ({ ...r, pos: 4096 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'file' && r.id === 12)}/pos: must be string`,
  },
  {
    name: 'a missing field',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'task' && r.pid === 200), (r) => {
      delete r.comm;
      return r;
    }),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'task' && r.pid === 200)}/comm: is missing`,
  },
  {
    name: 'malformed JSON',
    mutate: (l) => l.map((x, i) => (i === 20 ? x.slice(0, 30) + x.slice(31) : x)),
    error: (f) => `${f}: /records/19: malformed JSON: Unexpected STRING ("100:6") in state COLON`,
  },
  {
    name: 'a truncated document',
    mutate: (l) => l.slice(0, 30),
    error: (f) => `${f}: /records/29: the document ends early, before its closing ]} (truncated?)`,
  },
  {
    name: 'a key used twice',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'object' && r.key === 'socket:[901]'), (r) => ({ ...r, key: 'socket:[900]' })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'object' && r.key === 'socket:[901]')}/key: socket key "socket:[900]" is already object 13: a key names one object`,
  },
  {
    name: 'an fd slot used twice',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'fd' && r.fdtable === 2 && r.fd === 3), (r) => ({ ...r, fd: 0 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'fd' && r.fdtable === 2 && r.fd === 3)}/fd: fd 0 of fd table 2 appears twice`,
  },
  {
    name: 'a reference to an object of the wrong kind',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'object' && r.key === 'pipe:[777]'), (r) => ({ ...r, key: 'mm:100', kind: 'mm' })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'file' && r.id === 9)}/object: refers to object 8, an address space; expected an inode or a pipe or a socket or an anon inode`,
  },
  {
    name: 'a parent after its child',
    mutate: (l) => edit(l, lineOf(l, (r) => r.record === 'task' && r.pid === 100), (r) => ({ ...r, ppid: 300 })),
    error: (f, rs) => `${f}: /records/${at(rs, (r) => r.record === 'task' && r.pid === 300)}: task 300 comes after its child task 100: parents come first`,
  },
];

describe('import refuses bad images with one line, and writes nothing', () => {
  for (const c of BAD) {
    it(c.name, async () => {
      const { db, id, dir } = setup();
      const good = join(dir, 'good.json');
      await cli(db, ['export', String(id), '--out', good]);
      const text = readFileSync(good, 'utf8');
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, c.mutate(text.split('\n')).join('\n'));
      const store = openStore(db);
      const before = storeRowCounts(store);
      store.close();
      const r = await cli(db, ['import', bad]);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`ckptdb: ${c.error(bad, records(text))}\n`);
      expect(r.code).toBe(2);
      const after = openStore(db);
      expect(storeRowCounts(after)).toEqual(before);
      after.close();
    });
  }

  it('an NDJSON image without its end line, or with lines lost', async () => {
    const { db, id, dir } = setup();
    const good = join(dir, 'good.ndjson');
    await cli(db, ['export', String(id), '--format', 'image-ndjson', '--out', good]);
    const lines = readFileSync(good, 'utf8').trimEnd().split('\n');
    const cut = join(dir, 'cut.ndjson');
    writeFileSync(cut, lines.slice(0, -1).join('\n') + '\n');
    const r = await cli(db, ['import', cut]);
    expect(r.stderr).toBe(`ckptdb: ${cut}: line ${lines.length}: the image ends without its end record (truncated?)\n`);
    const lost = join(dir, 'lost.ndjson');
    writeFileSync(lost, [...lines.slice(0, -3), ...lines.slice(-1)].join('\n') + '\n');
    const r2 = await cli(db, ['import', lost]);
    expect(r2.stderr).toBe(`ckptdb: ${lost}: line ${lines.length - 2}: /records: the end record counts ${lines.length - 2} records, but ${lines.length - 4} came before it (lost lines?)\n`);
    const typo = join(dir, 'typo.ndjson');
    writeFileSync(typo, lines.map((l, i) => (i === 3 ? l.replace('"inferred":false', '"inferred":"no"') : l)).join('\n'));
    const r3 = await cli(db, ['import', typo]);
    expect(r3.stderr).toBe(`ckptdb: ${typo}: line 4: /inferred: must be boolean\n`);
    expect([r.code, r2.code, r3.code]).toEqual([2, 2, 2]);
    const store = openStore(db);
    expect(store.listCheckpoints()).toHaveLength(1);
    store.close();
  });

  it('what is not an image at all', async () => {
    const { db, dir } = setup();
    const cases: [string, string, string][] = [
      ['empty.json', '', 'the input is empty, not a ckptdb image'],
      ['array.json', '[1, 2]\n', '/: an image is a JSON object {format, version, records}'],
      ['other.json', '{"name": "x", "version": 1}\n', 'line 1: /format: is missing: this is not a ckptdb image'],
      ['extra.json', '{"format": "ckptdb-image", "version": 1, "records": [], "more": 1}', '/more: is not a field of an image (format, version, records)'],
      ['none.json', '{"format": "ckptdb-image", "version": 1, "records": []}', '/records/0: the image holds no checkpoint record'],
    ];
    for (const [name, text, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const r = await cli(db, ['import', path]);
      expect(r.stderr).toBe(`ckptdb: ${path}: ${message}\n`);
      expect(r.code).toBe(2);
    }
    const missing = await cli(db, ['import', join(dir, 'nope.json')]);
    expect(missing.stderr).toBe(`ckptdb: cannot read ${join(dir, 'nope.json')}: no such file or directory\n`);
    const noId = await cli(db, ['export', '9']);
    expect(noId.stderr).toBe(`ckptdb: no checkpoint 9 in ${db} (\`ckptdb list\` shows the checkpoints there are)\n`);
    const badFormat = await cli(db, ['export', '1', '--format', 'xml']);
    expect(badFormat.stderr).toBe('ckptdb: --format xml: expected one of image, image-ndjson, tree, criu\n');
    expect([missing.code, noId.code, badFormat.code]).toEqual([2, 2, 2]);
  });

  it('into a store it would create: no store file is left behind, while a good import keeps it', async () => {
    const { db, id, dir } = setup();
    const good = join(dir, 'good.json');
    await cli(db, ['export', String(id), '--out', good]);
    // found only once every record was written
    const late = BAD.find((c) => c.name === 'a refcount larger than the references')!;
    const text = readFileSync(good, 'utf8');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, late.mutate(text.split('\n')).join('\n'));
    const fresh = join(tempDir(), 'fresh.sqlite');
    const r = await cli(fresh, ['import', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ckptdb: ${late.error(bad, records(text))}\n`);
    expect(readdirSync(dirname(fresh))).toEqual([]);
    const ok = await cli(fresh, ['import', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await cli(fresh, ['import', bad])).code).toBe(2);
    const store = openStore(fresh, { create: false });
    expect(store.listCheckpoints()).toHaveLength(1);
    store.close();
  });
});
