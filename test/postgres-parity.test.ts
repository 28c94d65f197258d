/**
 * One schema, two dialects: every canned query and every view gives the same rows on
 * a SQLite store and on the PostgreSQL store its checkpoints were pushed to, for live
 * captures of a process tree and of an epoll and an inotify (fixtures/anon-files.py),
 * for a CRIU checkpoint made by CRIU's own encoder, and for a real CRIU dump of a tree
 * holding every kind of anonymous file (fixtures/criu-files.py) with a live capture of
 * it. The text forms give the same text as SQL functions on both, and as ckptdb's own
 * decoders, for every value of the stores and for values made to reach every branch.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureProcesses, openStore } from '../src/index.js';
import { fdText, flagsText, modeText, signalsText, stateText, typeText } from '../src/store/textForms.js';
import { importCriu } from '../src/formats/criu/index.js';
import { cannedQueries } from '../src/query/canned.js';
import { openReader, type Reader } from '../src/query/reader.js';
import { diffCheckpoints } from '../src/query/diff/engine.js';
import { openPostgresDiff } from '../src/query/diff/postgres.js';
import { openReadOnlyDatabase } from '../src/query/connection.js';
import { pushCheckpoints } from '../src/store/postgres/push.js';
import { buildFixtureWithoutZombie } from './helpers/criuFixture.js';
import { useLiveTree } from './helpers/liveTree.js';
import { runCli } from './helpers/cli.js';
import { CRIU, skipWithout } from './helpers/criuTools.js';
import { dump, killTree, startTree, treePids } from './helpers/criuReal.js';
import { postgresMissing, testPostgres } from './helpers/postgres.js';
import { FIXTURES, killGroup, startFixture } from './helpers/processes.js';
import { useFixture } from './helpers/useCriuFixture.js';

const missing = postgresMissing();
const VIEWS = ['processes', 'task_info', 'fdtable_holders', 'fd_holders', 'open_fds', 'object_holders', 'object_refs'];
const DETAIL_TABLES = ['file_eventfds', 'epoll_targets', 'inotify_watches', 'file_timerfds', 'file_signalfds', 'file_ttys'];
/** Without CRIU 4.x the real dump is left out, saying so; CI has it. */
const noCriu = skipWithout(CRIU);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A live capture of fixtures/anon-files.py, and, with CRIU, a live capture of
 * fixtures/criu-files.py and a real dump of it, all into the store at path.
 */
async function addAnonymousFiles(path: string, dir: string): Promise<void> {
  const store = openStore(path);
  try {
    const { child } = await startFixture('anon-files.py', [dir]);
    try {
      await captureProcesses(store, { pids: [child.pid!], label: 'anon-files' });
    } finally {
      await killGroup(child);
    }
    if (noCriu) return;
    const work = join(dir, 'work');
    const images = join(dir, 'dump');
    for (const d of [work, images]) mkdirSync(d);
    const tree = await startTree<{ pid: number }>(['python3', join(FIXTURES, 'criu-files.py'), work, String(await freePort())], work);
    const pids = treePids(tree.pid);
    try {
      await captureProcesses(store, { pids: [tree.pid], tree: true, label: 'criu-files' });
      await dump(tree.pid, images, ['--tcp-established']);
    } finally {
      await killTree(pids);
    }
    await importCriu(store, images);
  } finally {
    store.close();
  }
}

/** A row of every value in SQL: a CTE t(i, ...) of VALUES, as both dialects read it. */
function valuesTable(columns: string[], rows: unknown[][]): string {
  const literal = (v: unknown) => (v === null ? 'NULL' : typeof v === 'string' ? `'${v}'` : `CAST(${String(v as number | bigint)} AS bigint)`);
  return `WITH t(i, ${columns.join(', ')}) AS (VALUES ${rows.map((r, i) => `(${i}, ${r.map(literal).join(', ')})`).join(', ')})`;
}

/** Values that reach every branch of the decoders: edges of the integers, every bit, every name. */
const EDGES = [null, 0, 1, 2, 3, -1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, 2 ** 53, '9223372036854775807', '-9223372036854775808'];
const SIGNAL_MASKS = [
  null, '', '0', '0000000000000000', '0000000000004002', 'ffffffffffffffff', 'FFFFFFFFFFFFFFFF', '8000000000000001',
  'fffffffffffffffff', 'xyz', '12 4', ...Array.from({ length: 64 }, (_v, n) => (1n << BigInt(n)).toString(16).padStart(16, '0')),
  ...Array.from({ length: 16 }, (_v, n) => (1n << BigInt(n * 4 + 1)).toString(16)),
];
const STATES = [null, 'R', 'S', 'D', 'T', 't', 'X', 'Z', 'P', 'I', 'W', 'x', '', 'sleeping'];
const FILE_TYPES = [null, 'reg', 'memfd', 'dir', 'chr', 'blk', 'fifo', 'pipe', 'socket', 'eventfd', 'epoll', 'timerfd', 'signalfd', 'inotify', 'fanotify', 'anon', 'lnk', 'unknown'];
const MODES = [null, 0, 0o140777, 0o100644, 0o20666, 0o60660, 0o10600, 0o120777, 0o40755, 0o170000, 0o30000, -1, 2 ** 53];
const FAMILIES = [null, 'unix', 'inet', 'inet6', 'netlink', 'packet', 'bluetooth'];

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
    await addAnonymousFiles(path, dir);
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

  it('pushed every checkpoint: live captures, CRIU imports, the details of their anonymous files', async () => {
    // two of the tree, the CRIU fixture, anon-files.py; with CRIU, criu-files.py live and dumped
    expect(local).toHaveLength(noCriu ? 4 : 6);
    for (const table of DETAIL_TABLES) {
      const count = async (r: Reader, ids: number[]) =>
        Number((await rowsOf((await r.sql(`SELECT count(*) AS n FROM ${table} WHERE checkpoint_id IN (${ids.join(', ')})`)).rows))[0]!.n);
      const n = await count(sqlite, local);
      expect(await count(postgres, local.map((id) => remote.get(id)!)), table).toBe(n);
      // criu-files.py holds one of each; anon-files.py an epoll and an inotify
      if (!noCriu || ['epoll_targets', 'inotify_watches'].includes(table)) expect(n, table).toBeGreaterThan(0);
    }
  });

  it('every canned query, for every checkpoint', async () => {
    let compared = 0;
    const found = new Map<string, number>();
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
        // and the same text forms, which the renderer adds from the raw columns
        expect(b.text, q.name).toEqual(a.text);
        compared += rowsA.length;
        found.set(q.name, (found.get(q.name) ?? 0) + rowsA.length);
      }
    }
    expect(compared).toBeGreaterThan(500);
    // anon-files.py: an epoll of two targets and an inotify of two watches; criu-files.py more, live and dumped
    expect(found.get('epoll_watches')).toBeGreaterThanOrEqual(noCriu ? 2 : 6);
    expect(found.get('inotify_watches')).toBeGreaterThanOrEqual(noCriu ? 2 : 6);
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
    // fds whose anonymous file has details, added, removed or changed, of both sides
    let withDetails = 0;
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
          withDetails += key((onSqlite.fds ?? {}) as Row).split('"details":{').length - 1;
        }
      }
    }
    expect(changes).toBeGreaterThan(50);
    expect(withDetails).toBeGreaterThan(0);
  });

  it('the text forms as SQL functions: the same text on both, of every value the stores hold', async () => {
    const files = (c: number) => `SELECT fd_text(fd, flags) AS fd_text, type_text(type, mode, NULL) AS type_text, flags_text(flags) AS flags_text,
      mode_text(mode) AS mode_text, flags, mode FROM open_fds WHERE checkpoint_id = ${c} ORDER BY pid, fdtable_id, fd`;
    const tasks = (c: number) => `SELECT pid, state_text(state) AS state, signals_text(sig_pending) AS pending, signals_text(sig_blocked) AS blocked,
      signals_text(sig_ignored) AS ignored, signals_text(sig_caught) AS caught FROM tasks WHERE checkpoint_id = ${c} ORDER BY pid`;
    let seen = 0;
    for (const id of local) {
      for (const sql of [files, tasks]) {
        const a = await rowsOf((await sqlite.sql(sql(id))).rows);
        expect(await rowsOf((await postgres.sql(sql(remote.get(id)!))).rows), sql(id)).toEqual(a);
        seen += a.length;
      }
    }
    expect(seen).toBeGreaterThan(150);
    // and through the CLI: ckptdb query, as a person types it
    const [id] = local;
    const onSqlite = await runCli(['query', files(id!), '--json'], { db: path });
    expect(onSqlite.code, onSqlite.stderr).toBe(0);
    expect(JSON.parse(onSqlite.stdout)[0]).toMatchObject({ fd_text: expect.stringMatching(/^\d+[rwu]$/), flags: expect.any(Number) });
    expect(await runCli(['--db', url, 'query', files(remote.get(id!)!), '--json'], { db: path })).toEqual(onSqlite);
  });

  it('the text forms as SQL functions: the text of the decoders of ckptdb on both, for values that reach every branch', async () => {
    const bits = 'WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 63)';
    const cases: { sql: string; expect: (r: Row) => string | null; got: string }[] = [
      // every pair of bits of a 64-bit flags word, with every access mode
      {
        sql: `${bits}, a(k) AS (VALUES (0), (1), (2), (3))
          SELECT x.i AS i, y.i AS j, a.k AS k, flags_text((CAST(1 AS bigint) << x.i) | (CAST(1 AS bigint) << y.i) | a.k) AS got FROM n x, n y, a ORDER BY 1, 2, 3`,
        expect: (r) => flagsText((1n << BigInt(r.i as number)) | (1n << BigInt(r.j as number)) | BigInt(r.k as number)), got: 'got',
      },
      // every permission bit pattern of every file type
      {
        sql: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4095), f(k) AS (VALUES (0), (4096), (8192), (16384), (24576), (32768), (40960), (49152), (53248), (61440))
          SELECT n.i AS i, f.k AS k, mode_text(CAST(n.i | f.k AS bigint)) AS got FROM n, f ORDER BY 1, 2`,
        expect: (r) => modeText((r.i as number) | (r.k as number)), got: 'got',
      },
    ];
    const edges = EDGES.map((v) => (typeof v === 'string' ? BigInt(v) : v));
    const asValue = (v: number | bigint | null) => (v === null ? null : BigInt(v));
    const edgeRows = edges.map((v) => [v]);
    cases.push(
      { sql: `${valuesTable(['v'], edgeRows)} SELECT i, flags_text(v) AS got FROM t ORDER BY i`, expect: (r) => flagsText(asValue(edges[r.i as number]!)), got: 'got' },
      { sql: `${valuesTable(['v'], edgeRows)} SELECT i, mode_text(v) AS got FROM t ORDER BY i`, expect: (r) => modeText(asValue(edges[r.i as number]!)), got: 'got' },
    );
    const fdPairs = edges.flatMap((fd) => [...edges, 0o10000000, 0o10000001].map((flags) => [fd, flags] as const));
    cases.push({
      sql: `${valuesTable(['fd', 'flags'], fdPairs.map(([fd, flags]) => [fd, flags]))} SELECT i, fd_text(fd, flags) AS got FROM t ORDER BY i`,
      expect: (r) => { const [fd, flags] = fdPairs[r.i as number]!; return fdText(asValue(fd), asValue(flags)); }, got: 'got',
    });
    const typed = FILE_TYPES.flatMap((type) => MODES.flatMap((mode) => FAMILIES.map((family) => [type, mode, family] as const)));
    cases.push({
      sql: `${valuesTable(['type', 'mode', 'family'], typed.map(([t, m, f]) => [t, m, f]))} SELECT i, type_text(type, CAST(mode AS bigint), family) AS got FROM t ORDER BY i`,
      expect: (r) => { const [t, m, f] = typed[r.i as number]!; return typeText(t, asValue(m), f); }, got: 'got',
    });
    cases.push(
      { sql: `${valuesTable(['m'], SIGNAL_MASKS.map((m) => [m]))} SELECT i, signals_text(m) AS got FROM t ORDER BY i`, expect: (r) => signalsText(SIGNAL_MASKS[r.i as number]), got: 'got' },
      { sql: `${valuesTable(['s'], STATES.map((st) => [st]))} SELECT i, state_text(s) AS got FROM t ORDER BY i`, expect: (r) => stateText(STATES[r.i as number]), got: 'got' },
    );
    let checked = 0;
    for (const c of cases) {
      const a = await rowsOf((await sqlite.sql(c.sql)).rows);
      const b = await rowsOf((await postgres.sql(c.sql)).rows);
      expect(b, c.sql.slice(0, 200)).toEqual(a);
      for (const r of a) expect(r[c.got], `${key(r)} of ${c.sql.slice(0, 120)}`).toBe(c.expect(r));
      checked += a.length;
    }
    expect(checked).toBeGreaterThan(55_000);
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
