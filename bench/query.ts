/**
 * `npm run bench -- query [fds]`: every canned query of sql/ against a checkpoint of
 * 1,000,000 fds (bench/_bigCheckpoint.ts: 4,000 processes in 100 service trees,
 * ~10,000 tasks, pipes, sockets, shared and deleted files), written with the writer.
 *
 * Each figure is the median of 7 runs of one query with its default parameters (the
 * newest checkpoint, the query's default LIMIT), through the library: prepare, bind,
 * and read every row. Queries that take a pid are measured again filtered on the
 * process with the most fds. The baseline, measured in the same run on the same
 * store, is each query again after dropping the indexes of migrations/0002_views.sql.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, QuerySession, cannedQueries, type Params } from '../src/index.js';
import { writeBigCheckpoint, type BigCheckpoint } from './_bigCheckpoint.js';
import { median, type Figure } from './report.js';

const RUNS = 7;
const BASELINE_RUNS = 3;
const TARGET_MS = 100;
const VIEW_INDEXES = ['tasks_tgid_fdtable', 'tasks_fdtable_holder', 'shared_objects_refcount', 'files_deleted', 'sockets_state'];

interface Case {
  name: string;
  query: string;
  params: Params;
}

function timeQuery(session: QuerySession, c: Case, runs: number): { ms: number; rows: number } {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    rows = 0;
    for (const _row of session.canned(c.query, c.params).rows) rows++;
    times.push(performance.now() - t0);
  }
  return { ms: median(times), rows };
}

export default async function queryBench(args: string[]): Promise<Figure[]> {
  const fds = Number(args[0] ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-'));
  try {
    const path = join(dir, 'store.sqlite');
    const t0 = performance.now();
    // written by a process of its own, so that its heap does not weigh on the timings here
    const built = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--build', path, String(fds)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (built.status !== 0) throw new Error(`writing the store failed with status ${built.status}`);
    const big = JSON.parse(built.stdout.trim()) as BigCheckpoint;
    const buildSeconds = (performance.now() - t0) / 1000;

    const cases: Case[] = [];
    for (const q of cannedQueries().values()) {
      cases.push({ name: q.name, query: q.name, params: {} });
      if (q.params.some((p) => p.name === 'pid')) cases.push({ name: `${q.name} --pid`, query: q.name, params: { pid: big.busiestPid } });
    }

    const figures: Figure[] = [
      { name: 'fds in the checkpoint', value: big.fds, unit: 'fds' },
      { name: 'processes / tasks', value: big.processes, unit: `processes, ${big.tasks} tasks` },
      { name: 'store written in', value: buildSeconds, unit: 's' },
    ];
    const session = QuerySession.open(path);
    const measured = cases.map((c) => ({ c, ...timeQuery(session, c, RUNS) }));
    session.close();

    const writable = openStore(path);
    for (const index of VIEW_INDEXES) writable.db.exec(`DROP INDEX ${index}`);
    writable.close();
    const bare = QuerySession.open(path);
    for (const m of measured) {
      const baseline = timeQuery(bare, m.c, BASELINE_RUNS);
      figures.push({
        name: `${m.c.name} (${m.rows} rows)`, value: m.ms, unit: `ms median; ${baseline.ms.toFixed(1)} ms without the 0002 indexes`,
        target: `< ${TARGET_MS} ms`, ok: m.ms < TARGET_MS,
      });
    }
    bare.close();
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function build(path: string, fds: number): void {
  const store = openStore(path);
  const big = writeBigCheckpoint(store, { fds, services: 100, workersPerService: 39 });
  store.close();
  process.stdout.write(JSON.stringify(big) + '\n');
}

const [, , flag, buildPath, buildFds] = process.argv;
if (flag === '--build') build(buildPath!, Number(buildFds));
