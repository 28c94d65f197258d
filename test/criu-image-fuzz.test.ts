/**
 * The CRIU records of a restore image under random mutation (fields of other types or
 * values, flipped bytes in chunks, chunk lists cut, repeated or pointed elsewhere,
 * records lost, repeated or moved): import takes the checkpoint whole and sound, or
 * refuses it with one line naming the input and leaves every table as it was. What is
 * taken exports as CRIU images, or is refused by that export with a CkptdbError.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CkptdbError, checkpointRecords, importImage, openStore, type Store } from '../src/index.js';
import { exportCriu, importCriu, verifyCriuStorage } from '../src/formats/criu/index.js';
import { expectOneLineRefusal } from './helpers/refusal.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

type Rec = Record<string, unknown>;

let store: Store;
let original: Rec[];
/** Where the CRIU records start: the mutations aim at them. */
let firstCriu = 0;

beforeAll(async () => {
  store = openStore(tempStorePath());
  if (CRIT.missing) return;
  const { checkpointId } = await importCriu(store, fixtureDir());
  original = [...checkpointRecords(store, checkpointId)] as unknown as Rec[];
  firstCriu = original.findIndex((r) => r.record === 'criuChunk');
  store.deleteCheckpoint(checkpointId);
});
afterAll(() => store.close());

function counts(): number[] {
  const tables = store.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  return tables.map((t) => store.db.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number);
}

const anyValue = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -2, max: 5000 }), fc.string({ maxLength: 6 }), fc.constant([]), fc.constant([1, 1]),
  fc.constantFrom('../x', 'a/b', '.', 'CORE', 'FDINFO', 'raw', 'modelled', 'container', 'AAAA', '////'),
);

type Mutation = (rs: Rec[]) => Rec[];
/** The index of the n-th CRIU record (modulo how many there are). */
const criuAt = (rs: Rec[], n: number) => firstCriu + (n % (rs.length - firstCriu));
const replaceAt = (rs: Rec[], i: number, r: Rec) => rs.map((x, j) => (j === i ? r : x));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // a field of another type or value
  fc.tuple(fc.nat(), fc.nat(), anyValue).map(([n, k, v]) => (rs: Rec[]) => {
    const i = criuAt(rs, n);
    const keys = Object.keys(rs[i]!);
    return replaceAt(rs, i, { ...rs[i], [keys[k % keys.length]!]: v });
  }),
  // a byte of a chunk changed
  fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([n, at, value]) => (rs: Rec[]) => {
    const chunks = rs.map((r, j) => [r, j] as const).filter(([r]) => r.record === 'criuChunk');
    const [chunk, i] = chunks[n % chunks.length]!;
    const bytes = Buffer.from(chunk.data as string, 'base64');
    bytes[at % bytes.length] = value;
    return replaceAt(rs, i, { ...chunk, data: bytes.toString('base64') });
  }),
  // a file's chunk list cut, repeated or pointed at another chunk
  fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 40 }), fc.constantFrom('cut', 'repeat', 'point')).map(([n, at, to, how]) => (rs: Rec[]) => {
    const files = rs.map((r, j) => [r, j] as const).filter(([r]) => r.record === 'criuImage');
    const [file, i] = files[n % files.length]!;
    const chunks = [...(file.chunks as number[])];
    const k = at % Math.max(chunks.length, 1);
    if (how === 'cut') chunks.splice(k, 1);
    else if (how === 'repeat') chunks.splice(k, 0, chunks[k] ?? to);
    else chunks[k] = to;
    return replaceAt(rs, i, { ...file, chunks });
  }),
  // a CRIU record lost, repeated, or moved next to another
  fc.nat().map((n) => (rs: Rec[]) => rs.filter((_, j) => j !== criuAt(rs, n))),
  fc.nat().map((n) => (rs: Rec[]) => {
    const i = criuAt(rs, n);
    return [...rs.slice(0, i + 1), rs[i]!, ...rs.slice(i + 1)];
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => (rs: Rec[]) => {
    const [i, j] = [criuAt(rs, a), criuAt(rs, b)];
    return replaceAt(replaceAt(rs, i, rs[j]!), j, rs[i]!);
  }),
);

function ndjson(records: Rec[]): string {
  return [{ format: 'ckptdb-image', version: 1 }, ...records, { record: 'end', records: records.length }].map((r) => JSON.stringify(r)).join('\n') + '\n';
}

describe.skipIf(skipWithout(CRIT))('import of the CRIU records of an image under random mutations', () => {
  it('takes the checkpoint whole and sound, or refuses it in one line and writes nothing', async () => {
    const before = counts();
    const outcomes = { imported: 0, refused: 0, exported: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const records = mutations.reduce((rs, m) => m(rs), original);
        try {
          const r = await importImage(store, Readable.from([ndjson(records)]), { name: 'fuzz.ndjson' });
          outcomes.imported++;
          expect(store.verify(r.checkpointId)).toEqual([]);
          expect(verifyCriuStorage(store, r.checkpointId)).toEqual([]);
          const dir = mkdtempSync(join(tmpdir(), 'ckptdb-fuzz-'));
          try {
            await exportCriu(store, r.checkpointId, join(dir, 'out'));
            outcomes.exported++;
          } catch (e) {
            expect(e).toBeInstanceOf(CkptdbError);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
          store.deleteCheckpoint(r.checkpointId);
        } catch (e) {
          outcomes.refused++;
          expectOneLineRefusal(e, 'fuzz.ndjson: ');
        }
        expect(store.db.inTransaction).toBe(false);
        expect(counts()).toEqual(before);
      }),
      { numRuns: 300, seed: Number(process.env.CKPTDB_FUZZ_SEED ?? 11) },
    );
    expect(outcomes.refused).toBeGreaterThan(100);
    expect(outcomes.imported).toBeGreaterThan(5);
    expect(outcomes.exported).toBeGreaterThan(3);
  }, 300_000);
});
