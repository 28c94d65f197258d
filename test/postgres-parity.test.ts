/**
 * One schema, two dialects: every canned query and every view gives the same rows on
 * a SQLite store and on the PostgreSQL store its checkpoints were pushed to, for live
 * captures of a process tree and for a CRIU checkpoint (made by CRIU's own encoder).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { importCriu } from '../src/formats/criu/index.js';
import { cannedQueries } from '../src/query/canned.js';
import { openReader, type Reader } from '../src/query/reader.js';
import { diffCheckpoints } from '../src/query/diff/engine.js';
import { openPostgresDiff } from '../src/query/diff/postgres.js';
import { openReadOnlyDatabase } from '../src/query/connection.js';
import { pushCheckpoints } from '../src/store/postgres/push.js';
import { buildFixtureWithoutZombie } from './helpers/criuFixture.js';
import { useLiveTree } from './helpers/liveTree.js';
import { postgresMissing, testPostgres } from './helpers/postgres.js';
import { useFixture } from './helpers/useCriuFixture.js';

const missing = postgresMissing();
const VIEWS = ['processes', 'task_info', 'fdtable_holders', 'fd_holders', 'open_fds', 'object_holders', 'object_refs'];

type Row = Record<string, unknown>;
const key = (r: Row) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

async function rowsOf(rows: Iterable<Row> | AsyncIterable<Row>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

describe.skipIf(missing)(`the same rows on SQLite and PostgreSQL${missing ? ` (${missing})` : ''}`, () => {
  const live = useLiveTree();
  const criuDir = useFixture(buildFixtureWithoutZombie);
  let sqlite: Reader;
  let postgres: Reader;
  /** local checkpoint id -> its id in PostgreSQL */
  const remote = new Map<number, number>();
  let local: number[] = [];
  let path = '';
  let url = '';

  beforeAll(async () => {
    // a folder of the whole file's, not tempDir(), which goes after each test
    const dir = mkdtempSync(join(tmpdir(), 'ckptdb-parity-'));
    path = join(dir, 'store.sqlite');
    copyFileSync(live().db, path);
    const store = openStore(path);
    await importCriu(store, criuDir());
    store.close();
    url = testPostgres().database('parity');
    const db = openReadOnlyDatabase(path);
    for (const p of await pushCheckpoints(db, url, { withPages: true })) remote.set(p.local, p.remote);
    db.close();
    local = [...remote.keys()];
    sqlite = await openReader(path);
    postgres = await openReader(url);
    return async () => {
      await sqlite.close();
      await postgres.close();
      rmSync(dir, { recursive: true, force: true });
    };
  });

  /** Checkpoint ids in a row, as the local store numbers them. */
  function localIds(rows: Row[], column: string): Row[] {
    const back = new Map([...remote].map(([l, r]) => [r, l]));
    return rows.map((r) => (column in r ? { ...r, [column]: back.get(r[column] as number) ?? r[column] } : r));
  }

  it('pushed every checkpoint: two live captures and a CRIU import', () => {
    expect(local).toHaveLength(3);
  });

  it('every canned query, for every checkpoint', async () => {
    let compared = 0;
    for (const q of cannedQueries().values()) {
      const names = q.params.map((p) => p.name);
      const runs: { s: Row; p: Row }[] = [];
      const base: Row = names.includes('limit') ? { limit: -1 } : {};
      if (names.includes('checkpoint')) {
        for (const id of local) runs.push({ s: { ...base, checkpoint: id }, p: { ...base, checkpoint: remote.get(id) } });
      } else if (names.includes('exe')) {
        for (const exe of ['server', '/usr/bin/worker', process.execPath.split('/').at(-1)!, 'python3']) runs.push({ s: { ...base, exe }, p: { ...base, exe } });
      } else {
        runs.push({ s: base, p: base });
      }
      for (const run of runs) {
        const a = await sqlite.canned(q.name, run.s as never);
        const b = await postgres.canned(q.name, run.p as never);
        expect(b.columns, q.name).toEqual(a.columns);
        const rowsA = await rowsOf(a.rows);
        const rowsB = localIds(await rowsOf(b.rows), 'checkpoint');
        // row order is part of each query: compared as is
        expect(rowsB, `${q.name} ${key(run.s)}`).toEqual(rowsA);
        compared += rowsA.length;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('the fleet queries find what the checkpoints hold', async () => {
    const listeners = await rowsOf((await postgres.canned('listeners', { limit: -1 })).rows);
    expect(listeners.length).toBeGreaterThan(0);
    const servers = await rowsOf((await postgres.canned('processes_of', { exe: 'server' })).rows);
    expect(servers.map((r) => r.pid)).toContain(100);
    expect(new Set(servers.map((r) => r.exe))).toEqual(new Set(['/usr/bin/server']));
    const newest = await rowsOf((await postgres.canned('newest_per_host', {})).rows);
    expect(newest.length).toBeGreaterThan(0);
  });

  it('every view, for every checkpoint', async () => {
    for (const view of VIEWS) {
      for (const id of local) {
        const a = await rowsOf((await sqlite.sql(`SELECT * FROM ${view} WHERE checkpoint_id = :c`, { c: id })).rows);
        const b = localIds(await rowsOf((await postgres.sql(`SELECT * FROM ${view} WHERE checkpoint_id = :c`, { c: remote.get(id)! })).rows), 'checkpoint_id');
        expect(b.map(key).sort(), `${view} of checkpoint ${id}`).toEqual(a.map(key).sort());
        expect(a.length, `${view} of checkpoint ${id}`).toBeGreaterThan(0);
      }
    }
  });

  it('diff computed in PostgreSQL gives the document SQLite gives, for every pair', async () => {
    let changes = 0;
    for (const a of local) {
      for (const b of local) {
        for (const opts of [{}, { ignore: ['pos'] }]) {
          const onSqlite = await diffCheckpoints(path, a, b, opts);
          const diff = await openPostgresDiff(url, remote.get(a)!, remote.get(b)!, opts);
          const onPostgres = diff.toDocument();
          diff.close();
          expect({ ...onPostgres, a: { ...onPostgres.a, store: '', checkpoint: a }, b: { ...onPostgres.b, store: '', checkpoint: b } }, `${a} ${b}`)
            .toEqual({ ...onSqlite, a: { ...onSqlite.a, store: '' }, b: { ...onSqlite.b, store: '' } });
          changes += Object.values(onSqlite.summary).reduce((n, c) => n + c.added + c.removed + c.changed, 0);
        }
      }
    }
    expect(changes).toBeGreaterThan(50);
  });

  it('the typed kysely instance reads PostgreSQL as it reads SQLite', async () => {
    const [id] = local;
    const query = (r: Reader, checkpoint: number) =>
      r.kysely().selectFrom('open_fds').select(['pid', 'fd', 'type', 'path', 'shared']).where('checkpoint_id', '=', checkpoint).orderBy('pid').orderBy('fd').execute();
    const a = await query(sqlite, id!);
    expect(a.length).toBeGreaterThan(0);
    expect(await query(postgres, remote.get(id!)!)).toEqual(a);
  });
});
