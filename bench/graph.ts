/**
 * `npm run bench -- graph [services] [workers] [fds] [runs]`: `ckptdb graph --format svg`
 * of one checkpoint of services × (1 + workers) processes holding `fds` fds (default
 * 20 × (1 + 24) = 500 processes, 50,000 fds), written by bench/_bigCheckpoint.ts:
 * services whose workers are forked children with a pipe to their root, inherited
 * files, unix socket pairs and TCP connections.
 *
 * Times the built CLI (node's start, the store read, the layout by Graphviz as
 * WebAssembly, the SVG written), each the median of `runs`, output to a file:
 *   - svg: as drawn by default, identical workers collapsed into one node per service;
 *   - svg --no-collapse: every one of the processes a node of its own;
 *   - dot and json of the same graph: the baseline without a layout, measured in the
 *     same run, so that the layout's share shows.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/index.js';
import { writeBigCheckpoint } from './_bigCheckpoint.js';
import { median, type Figure } from './report.js';

const CLI = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'cli', 'main.js');

function timeCli(args: string[], out: string, runs: number): { ms: number; bytes: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...args, '--out', out], { encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`ckptdb ${args.join(' ')} failed: ${r.stderr}`);
  }
  return { ms: median(times), bytes: statSync(out).size };
}

export default async function graph(args: string[]): Promise<Figure[]> {
  const [services = 20, workers = 24, fds = 50_000, runs = 3] = args.map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-graph-'));
  try {
    const db = join(dir, 'store.sqlite');
    const store = openStore(db);
    const big = writeBigCheckpoint(store, { fds, services, workersPerService: workers });
    store.close();
    const base = ['--db', db, 'graph', String(big.checkpointId)];
    const svg = timeCli([...base, '--format', 'svg'], join(dir, 'g.svg'), runs);
    const all = timeCli([...base, '--format', 'svg', '--no-collapse'], join(dir, 'all.svg'), runs);
    const dot = timeCli([...base, '--format', 'dot'], join(dir, 'g.dot'), runs);
    const dotAll = timeCli([...base, '--format', 'dot', '--no-collapse'], join(dir, 'all.dot'), runs);
    const json = timeCli([...base, '--format', 'json'], join(dir, 'g.json'), runs);
    return [
      { name: 'processes', value: big.processes, unit: '' },
      { name: 'fds', value: big.fds, unit: '' },
      { name: 'graph --format svg', value: Math.round(svg.ms), unit: 'ms', target: 'finishes', ok: true },
      { name: 'svg size', value: svg.bytes, unit: 'bytes' },
      { name: 'graph --format svg --no-collapse', value: Math.round(all.ms), unit: 'ms', target: 'finishes', ok: true },
      { name: 'svg --no-collapse size', value: all.bytes, unit: 'bytes' },
      { name: 'baseline: graph --format dot', value: Math.round(dot.ms), unit: 'ms' },
      { name: 'baseline: graph --format dot --no-collapse', value: Math.round(dotAll.ms), unit: 'ms' },
      { name: 'baseline: graph --format json', value: Math.round(json.ms), unit: 'ms' },
      { name: 'svg / dot (layout share)', value: svg.ms / dot.ms, unit: '×' },
      { name: 'svg / dot, --no-collapse', value: all.ms / dotAll.ms, unit: '×' },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
