/**
 * Property-based fuzzing of import: random mutations of valid images (dropped fields,
 * wrong types, dangling ids, reordered, duplicated and lost records, refcounts off by
 * some, truncation, flipped bytes) in all three layouts (ckptdb's line layout, the same
 * document re-indented, NDJSON). Whatever the input, import either writes a complete,
 * consistent checkpoint or throws one CkptdbError whose message is one line naming the
 * input; it never throws anything else and never leaves a row behind.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointRecords, importImage, openStore, type Store } from '../src/index.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { storeRowCounts } from './helpers/checkpointRows.js';
import { restoreOrderViolations } from './helpers/imageOrder.js';
import { expectOneLineRefusal } from './helpers/refusal.js';
import { tempStorePath } from './helpers/tmp.js';

type Rec = Record<string, unknown>;
type Layout = 'lines' | 'pretty' | 'ndjson';

let store: Store;
let original: Rec[];

beforeAll(() => {
  store = openStore(tempStorePath());
  const id = shapesCheckpoint(store, { orphans: true });
  original = [...checkpointRecords(store, id)] as unknown as Rec[];
  store.deleteCheckpoint(id);
});
afterAll(() => store.close());

function serialize(records: unknown[], layout: Layout): string {
  const head = { format: 'ckptdb-image', version: 1 };
  if (layout === 'ndjson') return [head, ...records, { record: 'end', records: records.length }].map((r) => JSON.stringify(r)).join('\n') + '\n';
  if (layout === 'pretty') return JSON.stringify({ ...head, records }, null, 2);
  return `${JSON.stringify(head).slice(0, -1)},"records":[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
}

/** Values of every JSON type, and the near misses of the image's own (ids, 64-bit text, hex). */
const anyValue = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 200 }), fc.double(), fc.string({ maxLength: 8 }),
  fc.constantFrom('0', '-1', '9223372036854775808', '99999999999999999999', '1e3', '0x10', 'ffffffffff600000', 'fffffffffff60000'),
  fc.constant({}), fc.constant([]), fc.constant(['a']), fc.constant({ a: 1 }),
);

type Mutation = (rs: Rec[]) => Rec[];
const pick = <T>(xs: T[], n: number) => xs[n % xs.length]!;

const recordMutation: fc.Arbitrary<Mutation> = fc.oneof(
  // a field dropped
  fc.tuple(fc.nat(), fc.nat()).map(([i, k]) => (rs: Rec[]) => rs.map((r, j) => {
    if (j !== i % rs.length) return r;
    const copy = { ...r };
    delete copy[pick(Object.keys(r), k)];
    return copy;
  })),
  // a field of another type or value
  fc.tuple(fc.nat(), fc.nat(), anyValue).map(([i, k, v]) => (rs: Rec[]) => rs.map((r, j) => (j === i % rs.length ? { ...r, [pick(Object.keys(r), k)]: v } : r))),
  // an id reference pointing elsewhere, maybe nowhere
  fc.tuple(fc.nat(), fc.constantFrom('file', 'fdtable', 'mm', 'object', 'fs', 'sighand', 'id'), fc.integer({ min: -1, max: 60 })).map(([i, field, v]) => (rs: Rec[]) => {
    const holders = rs.map((r, j) => [r, j] as const).filter(([r]) => field in r);
    if (!holders.length) return rs;
    const [, at] = pick(holders, i);
    return rs.map((r, j) => (j === at ? { ...r, [field]: v } : r));
  }),
  // a refcount off by some
  fc.tuple(fc.nat(), fc.integer({ min: -3, max: 3 })).map(([i, d]) => (rs: Rec[]) => {
    const objects = rs.map((r, j) => [r, j] as const).filter(([r]) => 'refcount' in r);
    const [, at] = pick(objects, i);
    return rs.map((r, j) => (j === at ? { ...r, refcount: (r.refcount as number) + d } : r));
  }),
  // two records swapped
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => (rs: Rec[]) => {
    const copy = [...rs];
    const [i, j] = [a % rs.length, b % rs.length];
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    return copy;
  }),
  // a record lost, or written twice
  fc.nat().map((i) => (rs: Rec[]) => rs.filter((_, j) => j !== i % rs.length)),
  fc.nat().map((i) => (rs: Rec[]) => [...rs.slice(0, (i % rs.length) + 1), rs[i % rs.length]!, ...rs.slice((i % rs.length) + 1)]),
  // a namespace or rlimit of a task changed
  fc.tuple(fc.nat(), anyValue).map(([i, v]) => (rs: Rec[]) => {
    const tasks = rs.map((r, j) => [r, j] as const).filter(([r]) => r.record === 'task');
    const [, at] = pick(tasks, i);
    return rs.map((r, j) => (j === at ? { ...r, ...(i % 2 ? { namespaces: { net: v } } : { rlimits: [{ resource: 'nofile', soft: v, hard: null }] }) } : r));
  }),
);

type TextMutation = (text: string) => string;
const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.nat().map((n) => (t: string) => t.slice(0, n % t.length)),
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '"', ',', '\n', ':', '[', 'x', '\\', '0', ' ')).map(([n, c]) => (t: string) => {
    const i = n % t.length;
    return t.slice(0, i) + c + t.slice(i + 1);
  }),
  fc.nat().map((n) => (t: string) => {
    const i = n % t.length;
    return t.slice(0, i) + t.slice(i + 1);
  }),
);

const cases = fc.record({
  layout: fc.constantFrom<Layout>('lines', 'lines', 'pretty', 'ndjson'),
  mutations: fc.array(recordMutation, { minLength: 0, maxLength: 3 }),
  text: fc.option(textMutation, { freq: 3 }),
  chunk: fc.integer({ min: 1, max: 5000 }),
});

describe('import under random mutations', () => {
  it('never throws anything but one line naming the input, never leaves a partial checkpoint', async () => {
    const before = storeRowCounts(store);
    const outcomes = { imported: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(cases, async ({ layout, mutations, text, chunk }) => {
        // Let the test runner's own messages through between cases.
        await new Promise((resolve) => setImmediate(resolve));
        let rs = original;
        for (const m of mutations) rs = m(rs);
        let input = serialize(rs, layout);
        if (text) input = text(input);
        const chunks: string[] = [];
        for (let i = 0; i < input.length; i += chunk) chunks.push(input.slice(i, i + chunk));
        try {
          const r = await importImage(store, Readable.from(chunks), { name: 'fuzz.json' });
          outcomes.imported++;
          // What got in is whole: consistent, and exports as a valid image again.
          expect(store.verify(r.checkpointId)).toEqual([]);
          expect(restoreOrderViolations([...checkpointRecords(store, r.checkpointId)] as unknown as Rec[])).toEqual([]);
          store.deleteCheckpoint(r.checkpointId);
        } catch (e) {
          outcomes.refused++;
          expectOneLineRefusal(e, 'fuzz.json: ');
        }
        expect(store.db.inTransaction).toBe(false);
        expect(storeRowCounts(store)).toEqual(before);
      }),
      { numRuns: 3000 },
    );
    // Both ways out were taken many times: the mutations are neither all fatal nor all harmless.
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(outcomes.imported).toBeGreaterThan(100);
  }, 300_000);
});
