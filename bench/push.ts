/**
 * `npm run bench -- push [fds] [checkpoints] [fdsEach]` (default 1,000,000, 20, 50,000),
 * on a private PostgreSQL cluster started for the run (as the tests do) and stopped after:
 *
 * - push: a checkpoint of `fds` fds (bench/_bigCheckpoint.ts, with its files, objects,
 *   tasks and maps: every row of it) pushed from a SQLite store, in rows/s, against a
 *   bare COPY of the same rows, as text made beforehand, into the same tables of a
 *   fresh database in one transaction (target: push at least 0.7x the bare COPY);
 * - canned queries: `checkpoints` checkpoints of `fdsEach` fds from as many hosts
 *   pushed to one database; every canned query through the library on PostgreSQL, the
 *   median of 3 runs with every row read (target: each under 200 ms), SQLite's time on
 *   the same store beside it;
 * - diff: two checkpoints of `fds` fds, the second with 1% of its open files moved, in
 *   one PostgreSQL store, by `ckptdb diff` (computed in the server; target under 5 s),
 *   and the same two in the SQLite store as the baseline.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { openStore } from '../src/index.js';
import { cannedQueries } from '../src/query/canned.js';
import type { Params } from '../src/query/params.js';
import { openReader, type Reader } from '../src/query/reader.js';
import { openReadOnlyDatabase } from '../src/query/connection.js';
import { clientConfig } from '../src/store/postgres/connection.js';
import { copyLine } from '../src/store/postgres/copyText.js';
import { migratePostgres } from '../src/store/postgres/migrate.js';
import { pushCheckpoints } from '../src/store/postgres/push.js';
import { CHECKPOINT_TABLES, postgresColumns } from '../src/store/postgres/tables.js';
import { postgresBinDir, startCluster, type Cluster } from '../test/helpers/postgresCluster.js';
import { writeBigCheckpoint } from './_bigCheckpoint.js';
import { median, type Figure } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export default async function run(args: string[]): Promise<Figure[]> {
  const [fds = 1_000_000, checkpoints = 20, fdsEach = 50_000] = args.map(Number);
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const cluster = startCluster(bin);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-push-'));
  try {
    return [...(await pushFigures(cluster, dir, fds)), ...(await queryFigures(cluster, dir, checkpoints, fdsEach))];
  } finally {
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function database(cluster: Cluster, name: string): string {
  cluster.psql('postgres', `CREATE DATABASE ${name}`);
  return cluster.url(name);
}

async function pushFigures(cluster: Cluster, dir: string, fds: number): Promise<Figure[]> {
  const path = join(dir, 'big.sqlite');
  const store = openStore(path);
  const shape = { fds, services: 40, workersPerService: 24 };
  const a = writeBigCheckpoint(store, { ...shape, host: 'host-a' }).checkpointId;
  const b = writeBigCheckpoint(store, { ...shape, host: 'host-b' }).checkpointId;
  // B: 1% of its open files moved on
  store.db.prepare('UPDATE files SET pos = pos + 4096 WHERE checkpoint_id = ? AND id % 100 = 0').run(b);
  store.close();

  const db = openReadOnlyDatabase(path);
  const rows = db.prepare(`SELECT ${CHECKPOINT_TABLES.map((t) => `(SELECT count(*) FROM ${t} WHERE checkpoint_id = :a)`).join(' + ')}`).pluck().get({ a }) as number;
  const url = database(cluster, 'pushed');
  // the schema first, so that both runs time the rows alone
  const setup = new pg.Client(clientConfig(url));
  await setup.connect();
  await migratePostgres(setup, 'pushed');
  await setup.end();
  let t = performance.now();
  await pushCheckpoints(db, url, { ids: [a] });
  const pushSeconds = (performance.now() - t) / 1000;
  const bare = await bareCopy(cluster, db, a);
  await pushCheckpoints(db, url, { ids: [b] });
  db.close();

  const diffOn = (args: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (r.status !== 1) throw new Error(`ckptdb ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
      times.push((performance.now() - t) / 1000);
    }
    return median(times);
  };
  const diffPostgres = diffOn(['--db', url, 'diff', '1', '2']);
  const diffSqlite = diffOn(['--db', path, 'diff', String(a), String(b)]);
  return [
    { name: `push: rows of a ${fds.toLocaleString('en-US')}-fd checkpoint`, value: rows, unit: 'rows' },
    { name: 'push: time', value: pushSeconds, unit: 's' },
    { name: 'push: rate', value: Math.round(rows / pushSeconds), unit: 'rows/s' },
    { name: 'bare COPY of the same rows: time', value: bare, unit: 's' },
    { name: 'bare COPY: rate', value: Math.round(rows / bare), unit: 'rows/s' },
    { name: 'push / bare COPY', value: bare / pushSeconds, unit: 'x', target: '>= 0.7', ok: bare / pushSeconds >= 0.7 },
    { name: `diff of two ${fds.toLocaleString('en-US')}-fd checkpoints on PostgreSQL (ckptdb diff, median of 3)`, value: diffPostgres, unit: 's', target: '< 5', ok: diffPostgres < 5 },
    { name: 'the same diff on SQLite (baseline)', value: diffSqlite, unit: 's' },
  ];
}

/** The rows a push of the checkpoint sends, as COPY text made beforehand, COPYed into a fresh database in one transaction. */
async function bareCopy(cluster: Cluster, db: Database.Database, id: number): Promise<number> {
  const url = database(cluster, 'bare');
  const client = new pg.Client(clientConfig(url));
  await client.connect();
  try {
    await migratePostgres(client, 'bare');
    const texts: [string, string[], string[]][] = [];
    for (const table of CHECKPOINT_TABLES) {
      const cols = (await postgresColumns(client, table)).filter((c) => c !== 'checkpoint_id');
      const chunks: string[] = [];
      let text = '';
      for (const r of db.prepare(`SELECT ${cols.join(', ')} FROM ${table} WHERE checkpoint_id = ?`).raw(true).safeIntegers(true).iterate(id) as IterableIterator<unknown[]>) {
        text += copyLine([1, ...r]);
        if (text.length > 1 << 20) {
          chunks.push(text);
          text = '';
        }
      }
      chunks.push(text);
      texts.push([table, ['checkpoint_id', ...cols], chunks]);
    }
    const t = performance.now();
    await client.query('BEGIN');
    await client.query("INSERT INTO checkpoints (id, source, started_at, finished_at, uuid) VALUES (1, 'proc', 'now', 'now', gen_random_uuid())");
    for (const [table, cols, chunks] of texts) {
      const stream = client.query(copyFrom(`COPY ${table} (${cols.join(', ')}) FROM STDIN`));
      const done = new Promise((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
      });
      for (const c of chunks) if (!stream.write(c)) await new Promise((r) => stream.once('drain', r));
      stream.end();
      await done;
    }
    await client.query('COMMIT');
    return (performance.now() - t) / 1000;
  } finally {
    await client.end();
  }
}

async function queryFigures(cluster: Cluster, dir: string, checkpoints: number, fdsEach: number): Promise<Figure[]> {
  const path = join(dir, 'fleet.sqlite');
  const store = openStore(path);
  for (let h = 0; h < checkpoints; h++) writeBigCheckpoint(store, { fds: fdsEach, services: 8, workersPerService: 6, host: `host-${String(h).padStart(2, '0')}` });
  store.close();
  const url = database(cluster, 'fleet');
  const db = openReadOnlyDatabase(path);
  await pushCheckpoints(db, url);
  db.close();
  cluster.psql('fleet', 'ANALYZE');
  const onPostgres = await openReader(url);
  const onSqlite = await openReader(path);
  const figures: Figure[] = [];
  try {
    for (const q of cannedQueries().values()) {
      const params: Params = q.params.some((p) => p.name === 'exe') ? { exe: 'svc3' } : {};
      const time = async (reader: Reader) => {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          let n = 0;
          for await (const _row of (await reader.canned(q.name, params)).rows) n++;
          times.push(performance.now() - t);
          if (n < 0) throw new Error('unreachable');
        }
        return median(times);
      };
      const ms = await time(onPostgres);
      figures.push({ name: `q ${q.name} on PostgreSQL (${checkpoints} x ${fdsEach.toLocaleString('en-US')} fds)`, value: ms, unit: 'ms', target: '< 200', ok: ms < 200 });
      figures.push({ name: `q ${q.name} on SQLite (baseline)`, value: await time(onSqlite), unit: 'ms' });
    }
  } finally {
    await onPostgres.close();
    await onSqlite.close();
  }
  return figures;
}
