/**
 * Property-based fuzzing of tree import: random changes to a valid tree (a value file
 * lost, rewritten or cut short, a directory lost or renamed, a stray file, `done`
 * missing). Import either writes a complete, consistent checkpoint or throws one
 * CkptdbError whose one-line message names a path in the tree; it never throws anything
 * else and never leaves a row behind. Each change is undone from a pristine copy.
 */
import { cpSync, existsSync, lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTree, importTree, openStore, type Store } from '../src/index.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { storeRowCounts } from './helpers/checkpointRows.js';
import { expectOneLineRefusal } from './helpers/refusal.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

let store: Store;
let pristine: string;
let work: string;
let files: string[];
let dirs: string[];

function walk(root: string): { files: string[]; dirs: string[] } {
  const out = { files: [] as string[], dirs: [] as string[] };
  const visit = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        out.dirs.push(p.slice(root.length + 1));
        visit(p);
      } else out.files.push(p.slice(root.length + 1));
    }
  };
  visit(root);
  return out;
}

beforeAll(() => {
  store = openStore(tempStorePath());
  const id = shapesCheckpoint(store, { orphans: true });
  const base = tempDir();
  pristine = exportTree(store, id, join(base, 'pristine')).path;
  work = join(base, 'work', `checkpoint-${id}`);
  cpSync(pristine, work, { recursive: true, verbatimSymlinks: true });
  store.deleteCheckpoint(id);
  ({ files, dirs } = walk(pristine));
});
afterAll(() => store.close());

/** Puts a path of the work tree back as the pristine tree has it. */
function restore(rel: string): void {
  const target = join(work, rel);
  rmSync(target, { recursive: true, force: true });
  const source = join(pristine, rel);
  if (existsSync(source) || isLink(source)) cpSync(source, target, { recursive: true, verbatimSymlinks: true });
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const content = fc.oneof(
  fc.constantFrom('', ' ', 'x', '0', '1', '-1', '2', '99', '1.5', '1e3', '9223372036854775808', '18446744073709551615',
    'null', '{}', '[]', '["a"]', '{"a":1', 'ffffffffff600000', 'pipe', 'mm', 'reg', '0\n', '\u0000'),
  fc.string({ maxLength: 12 }),
);

/** A change to the work tree; returns the paths (relative) to put back afterwards. */
type Change = () => string[];
const change: fc.Arbitrary<Change> = fc.oneof(
  fc.nat().map((i) => () => {
    const f = files[i % files.length]!;
    rmSync(join(work, f), { force: true });
    return [f];
  }),
  fc.tuple(fc.nat(), content).map(([i, text]) => () => {
    const f = files[i % files.length]!;
    if (!existsSync(dirname(join(work, f)))) return [];
    rmSync(join(work, f), { force: true });
    writeFileSync(join(work, f), text);
    return [f];
  }),
  fc.nat().map((i) => () => {
    const d = dirs[i % dirs.length]!;
    rmSync(join(work, d), { recursive: true, force: true });
    return [d];
  }),
  fc.tuple(fc.nat(), fc.constantFrom('99', '0', 'x', 'task-9', '00000000000000ff', '-1')).map(([i, name]) => () => {
    const d = dirs[i % dirs.length]!;
    const to = join(dirname(d), name);
    if (!existsSync(join(work, d)) || existsSync(join(work, to))) return [];
    renameSync(join(work, d), join(work, to));
    return [d, to];
  }),
  fc.tuple(fc.nat(), fc.constantFrom('stray', 'done', 'kind', '7', 'task-5')).map(([i, name]) => () => {
    const d = i % 3 === 0 ? '.' : dirs[i % dirs.length]!;
    const f = join(d, name);
    if (!existsSync(join(work, d)) || existsSync(join(work, f)) || isLink(join(work, f))) return [];
    writeFileSync(join(work, f), '1');
    return [f];
  }),
  fc.constant(() => {
    rmSync(join(work, 'done'), { force: true });
    return ['done'];
  }),
);

describe('tree import under random changes', () => {
  it('never throws anything but one line naming a path, never leaves a partial checkpoint', async () => {
    const before = storeRowCounts(store);
    const outcomes = { imported: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 3 }), async (changes) => {
        // Let the test runner's own messages through between cases.
        await new Promise((resolve) => setImmediate(resolve));
        const touched: string[] = [];
        try {
          for (const c of changes) touched.push(...c());
          try {
            const r = await importTree(store, work);
            outcomes.imported++;
            expect(store.verify(r.checkpointId)).toEqual([]);
            store.deleteCheckpoint(r.checkpointId);
          } catch (e) {
            outcomes.refused++;
            expectOneLineRefusal(e, work);
          }
          expect(store.db.inTransaction).toBe(false);
          expect(storeRowCounts(store)).toEqual(before);
        } finally {
          for (const p of touched.reverse()) restore(p);
        }
      }),
      { numRuns: 1000 },
    );
    expect(outcomes.refused).toBeGreaterThan(500);
    expect(outcomes.imported).toBeGreaterThan(20);
    // The work tree is whole again: it imports.
    const r = await importTree(store, work);
    expect(store.verify(r.checkpointId)).toEqual([]);
  }, 300_000);
});
