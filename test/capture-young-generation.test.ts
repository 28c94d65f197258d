/**
 * A large capture holds the writing thread's young generation at its size
 * (src/capture/proc/youngGeneration.ts) and lets it grow again afterwards. Checked in
 * a fresh Node process, whose young generation is still far from its largest, against
 * V8's own figures.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';

const script = (module: string) => `
import { getHeapSpaceStatistics } from 'node:v8';
import { holdYoungGeneration } from ${JSON.stringify(module)};
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
let keep = [];
const churn = (n) => {
  for (let i = 0; i < n; i++) {
    const o = { a: i, b: 'x' + i };
    if (i % 3 === 0) keep.push(o);
    if (keep.length > 200000) keep = [];
  }
};
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

describe('young generation of a capture', () => {
  it('stays at its size while held, by every holder, and grows once released', () => {
    const module = pathToFileURL(join(packageRoot, 'dist', 'capture', 'proc', 'youngGeneration.js')).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(module)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const { start, held, after } = JSON.parse(r.stdout) as { start: number; held: number; after: number };
    expect(held).toBe(start);
    expect(after).toBeGreaterThan(held);
  });
});
