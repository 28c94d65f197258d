/**
 * While a checkpoint is written, the writing thread's young generation stays at its
 * size (src/store/writer/youngGeneration.ts) and may grow again afterwards. Checked in
 * a fresh Node process, whose young generation is still far from its largest, against
 * V8's own figures.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { tempStorePath } from './helpers/tmp.js';

const churn = `
let keep = [];
const churn = (n) => {
  for (let i = 0; i < n; i++) {
    const o = { a: i, b: 'x' + i };
    if (i % 3 === 0) keep.push(o);
    if (keep.length > 200000) keep = [];
  }
};
`;

const script = (module: string) => `
import { getHeapSpaceStatistics } from 'node:v8';
import { holdYoungGeneration } from ${JSON.stringify(module)};
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
${churn}
// past its first size, below its largest
churn(1e5);
const start = young();
const release = holdYoungGeneration();
const again = holdYoungGeneration();
churn(3e6);
release();
churn(3e6);
const held = young();
release();
again();
churn(3e6);
console.log(JSON.stringify({ start, held, after: young() }));
`;


const writerScript = (index: string, store: string) => `
import { getHeapSpaceStatistics } from 'node:v8';
import { openStore } from ${JSON.stringify(index)};
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
${churn}
const store = openStore(${JSON.stringify(store)});
churn(1e5);
const start = young();
const w = store.beginCheckpoint({ source: 'proc' });
churn(3e6);
const held = young();
w.done();
churn(3e6);
const after = young();
store.close();
console.log(JSON.stringify({ start, held, after }));
`;

/** Runs the script in a fresh Node whose young generation may grow beyond what loading the modules takes. */
function run(source: string): { start: number; held: number; after: number } {
  const r = spawnSync(process.execPath, ['--max-semi-space-size=64', '--input-type=module', '-e', source], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { start: number; held: number; after: number };
}

describe('young generation while a checkpoint is written', () => {
  it('stays at its size from beginCheckpoint to done, and grows after', () => {
    const { start, held, after } = run(writerScript(pathToFileURL(join(packageRoot, 'dist', 'index.js')).href, tempStorePath()));
    expect(held).toBe(start);
    expect(after).toBeGreaterThan(held);
  });

  it('stays at its size while held, by every holder, and grows once released', () => {
    const module = pathToFileURL(join(packageRoot, 'dist', 'store', 'writer', 'youngGeneration.js')).href;
    const { start, held, after } = run(script(module));
    expect(held).toBe(start);
    expect(after).toBeGreaterThan(held);
  });
});
