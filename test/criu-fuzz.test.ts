/**
 * Mutated images, as a damaged disk or a hostile file would give them: importCriu either
 * takes the checkpoint whole and sound, or refuses it with a BAD_IMAGE error and leaves
 * the store as it was. Never a crash, never a partial checkpoint.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CkptdbError, openStore, type Store } from '../src/index.js';
import { importCriu } from '../src/formats/criu/index.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

const TARGETS = [
  'inventory.img', 'pstree.img', 'files.img', 'fdinfo-2.img', 'fdinfo-12.img', 'core-100.img', 'core-101.img', 'core-140.img',
  'ids-110.img', 'fs-120.img', 'mm-100.img', 'pagemap-100.img', 'pipes-data.img', 'tcp-stream-1f42.img', 'stats-dump',
];

type Mutation =
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; n: number }
  | { op: 'size'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('size' as const), at: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constant(0xffffffff), fc.constant(0x7fffffff)) }),
);

function mutate(bytes: Buffer, m: Mutation): Buffer {
  const at = bytes.length ? m.at % bytes.length : 0;
  switch (m.op) {
    case 'set': {
      const b = Buffer.from(bytes);
      b[at] = m.value;
      return b;
    }
    case 'truncate':
      return bytes.subarray(0, at);
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.n)]);
    case 'size': {
      const b = Buffer.from(bytes);
      if (b.length >= 4) b.writeUInt32LE(m.value >>> 0, Math.min(at, b.length - 4));
      return b;
    }
  }
}

const TABLES = ['checkpoints', 'shared_objects', 'files', 'tasks', 'fds', 'maps', 'sockets', 'task_namespaces', 'task_rlimits', 'criu_images', 'criu_chunks', 'criu_image_chunks'];
const counts = (store: Store) => TABLES.map((t) => store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number);

describe.skipIf(skipWithout(CRIT))('importCriu on mutated images', () => {
  it('takes each whole or refuses it with BAD_IMAGE, leaving nothing', async () => {
    const dir = tempDir();
    cpSync(fixtureDir(), dir, { recursive: true });
    const store = openStore(tempStorePath());
    const outcomes = { imported: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (target, mutations) => {
        const original = readFileSync(join(fixtureDir(), target));
        writeFileSync(join(dir, target), mutations.reduce(mutate, original));
        const before = counts(store);
        try {
          const r = await importCriu(store, dir);
          expect(store.verify(r.checkpointId)).toEqual([]);
          expect(counts(store)[0]).toBe(before[0]! + 1);
          outcomes.imported++;
        } catch (e) {
          if (!(e instanceof CkptdbError) || e.code !== 'BAD_IMAGE') throw e;
          expect(e.message).toMatch(new RegExp(`^${join(dir, target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .* at byte \\d+$`));
          expect(counts(store)).toEqual(before);
          outcomes.refused++;
        } finally {
          writeFileSync(join(dir, target), original);
        }
      }),
      { numRuns: 400, seed: Number(process.env.CKPTDB_FUZZ_SEED ?? 7) },
    );
    // Both ways out were taken: the mutations reach past the framing into the messages.
    expect(outcomes.imported).toBeGreaterThan(4);
    expect(outcomes.refused).toBeGreaterThan(100);
    store.close();
  }, 300_000);
});
