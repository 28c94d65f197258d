import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { CkptdbError, QuerySession } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { copyStore, useLiveTree } from './helpers/liveTree.js';

/**
 * The store file's bytes, what its write-ahead log holds, and every other file in its
 * folder, to tell that nothing changed or appeared. A read-only connection to a WAL
 * store leaves an empty -wal and a -shm (the shared-memory index) behind, as any
 * SQLite reader does; neither holds data.
 */
function snapshot(path: string): { digest: string; walBytes: number; files: string[] } {
  const dir = dirname(path);
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  const walBytes = existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
  return { digest, walBytes, files: readdirSync(dir).filter((f) => !/-(wal|shm)$/.test(f)).sort() };
}

const live = useLiveTree();
let db: string;
beforeEach(() => {
  db = copyStore(live());
});

/** Every way to write through ad-hoc SQL; each is refused and leaves the store as it was. */
function attacks(dir: string): [string, string][] {
  return [
    ['INSERT', "INSERT INTO checkpoints (source, started_at, finished_at) VALUES ('proc', 'x', 'x')"],
    ['INSERT … RETURNING', "INSERT INTO checkpoints (source, started_at, finished_at) VALUES ('proc', 'x', 'x') RETURNING id"],
    ['REPLACE', "REPLACE INTO checkpoints (id, source, started_at, finished_at) VALUES (1, 'proc', 'x', 'x')"],
    ['UPDATE', "UPDATE tasks SET comm = 'evil'"],
    ['DELETE', 'DELETE FROM fds'],
    ['DROP', 'DROP TABLE fds'],
    ['DROP VIEW', 'DROP VIEW open_fds'],
    ['CREATE', 'CREATE TABLE evil (x)'],
    ['CREATE TEMP', 'CREATE TEMP TABLE evil (x)'],
    ['CREATE INDEX', 'CREATE INDEX evil ON fds (cloexec)'],
    ['ALTER', 'ALTER TABLE tasks ADD COLUMN evil TEXT'],
    ['ATTACH a new file', `ATTACH '${join(dir, 'attached.sqlite')}' AS evil`],
    ['ATTACH memory', "ATTACH ':memory:' AS evil"],
    ['DETACH', 'DETACH main'],
    ['PRAGMA user_version =', 'PRAGMA user_version = 99'],
    ['PRAGMA user_version()', 'PRAGMA user_version(99)'],
    ['PRAGMA application_id', 'PRAGMA main.application_id = 1'],
    ['PRAGMA journal_mode', 'PRAGMA journal_mode = DELETE'],
    ['PRAGMA journal_mode read', 'PRAGMA journal_mode'],
    ['PRAGMA foreign_keys', 'PRAGMA foreign_keys = OFF'],
    ['PRAGMA query_only', 'PRAGMA query_only = 0'],
    ['PRAGMA writable_schema', 'PRAGMA writable_schema = ON'],
    ['PRAGMA wal_checkpoint', 'PRAGMA wal_checkpoint(TRUNCATE)'],
    ['PRAGMA optimize', 'PRAGMA optimize'],
    ['PRAGMA incremental_vacuum', 'PRAGMA incremental_vacuum'],
    ['EXPLAIN PRAGMA', 'EXPLAIN PRAGMA foreign_keys = OFF'],
    ['VACUUM', 'VACUUM'],
    ['VACUUM INTO', `VACUUM INTO '${join(dir, 'copy.sqlite')}'`],
    ['ANALYZE', 'ANALYZE'],
    ['REINDEX', 'REINDEX'],
    ['load_extension', "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')"],
    ['load_extension in a subquery', "SELECT (SELECT load_extension('/tmp/evil.so', 'init')) AS x FROM tasks"],
    ['write after ;', 'SELECT 1; DELETE FROM fds'],
    ['write after ; and a comment', 'SELECT 1 /* ; */; -- x\nDROP TABLE tasks'],
    ['CTE that writes', 'WITH doomed AS (SELECT id FROM tasks) DELETE FROM tasks WHERE id IN (SELECT id FROM doomed)'],
    ['CTE that inserts', "WITH x AS (SELECT 1) INSERT INTO checkpoints (source, started_at, finished_at) SELECT 'proc', 'x', 'x' FROM x RETURNING id"],
    ['BEGIN', 'BEGIN IMMEDIATE'],
    ['SAVEPOINT', 'SAVEPOINT s'],
    ['CREATE TRIGGER', 'CREATE TEMP TRIGGER t AFTER INSERT ON tasks BEGIN SELECT 1; END'],
  ];
}

describe('ad-hoc SQL cannot change the store', () => {
  it('refuses every write through the CLI with one line and exit 2, and leaves the file byte for byte', async () => {
    const before = snapshot(db);
    for (const [what, sql] of attacks(dirname(db))) {
      const r = await runCli(['query', sql], { db });
      expect(r.code, what).toBe(2);
      expect(r.stdout, what).toBe('');
      expect(r.stderr, what).toMatch(/^ckptdb: (query refused: |SQL error: )[^\n]+\n$/);
      expect(snapshot(db), what).toEqual(before);
    }
    // and the store still reads as it did
    const after = await runCli(['query', 'SELECT count(*) AS n FROM fds', '--json'], { db });
    const fds = live().shape.tables.reduce((n, t) => n + t.fds.length, 0);
    expect(JSON.parse(after.stdout)).toEqual([{ n: 2 * fds }]);
    expect(snapshot(db)).toEqual(before);
  }, 120_000);

  it('names what was refused', async () => {
    const cases: [string, RegExp][] = [
      ['DELETE FROM fds', /^ckptdb: query refused: DELETE writes to the store \(ad-hoc SQL only reads/],
      ["ATTACH ':memory:' AS x", /^ckptdb: query refused: ATTACH does not return rows/],
      ['PRAGMA foreign_keys = OFF', /^ckptdb: query refused: PRAGMA foreign_keys with a value changes the connection/],
      ['SELECT 1; DELETE FROM fds', /^ckptdb: query refused: more than one statement/],
      ['WITH x AS (SELECT 1) DELETE FROM fds', /^ckptdb: query refused: WITH … DELETE writes to the store/],
      ["SELECT load_extension('x')", /^ckptdb: query refused: SELECT calls load_extension\(\)/],
      ["VACUUM INTO '/tmp/x.sqlite'", /^ckptdb: query refused: VACUUM writes to the store/],
    ];
    for (const [sql, message] of cases) expect((await runCli(['query', sql], { db })).stderr, sql).toMatch(message);
  });

  it('lets reading statements through: SELECT, WITH, VALUES, EXPLAIN, reading PRAGMAs', async () => {
    const ok = [
      'SELECT count(*) FROM tasks',
      'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n',
      'VALUES (1, 2)',
      'EXPLAIN QUERY PLAN SELECT * FROM open_fds WHERE checkpoint_id = 1 AND pid = 1',
      'PRAGMA table_info(tasks)',
      'PRAGMA main.user_version',
      'PRAGMA foreign_keys',
      "SELECT name FROM pragma_table_list WHERE schema = 'main' ORDER BY name",
      "SELECT 'DELETE FROM fds; DROP TABLE x' AS text_that_looks_bad -- ; DROP TABLE tasks",
    ];
    const before = snapshot(db);
    for (const sql of ok) {
      const r = await runCli(['query', sql, '--json'], { db });
      expect(r.stderr, sql).toBe('');
      expect(r.code, sql).toBe(0);
      expect(JSON.parse(r.stdout).length, sql).toBeGreaterThan(0);
    }
    expect(snapshot(db)).toEqual(before);
  });

  it('leaves the connection as it was after a refused statement (library)', () => {
    const session = QuerySession.open(db);
    try {
      expect(session.db.pragma('foreign_keys', { simple: true })).toBe(1);
      for (const sql of ['PRAGMA foreign_keys = OFF', 'EXPLAIN PRAGMA foreign_keys = 0', 'PRAGMA query_only = 0', "ATTACH ':memory:' AS x"]) {
        expect(() => session.sql(sql), sql).toThrowError(CkptdbError);
      }
      expect(session.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect((session.db.pragma('database_list') as { name: string }[]).map((d) => d.name)).toEqual(['main']);
      // even a direct call of the replaced function refuses
      expect(() => session.db.prepare("SELECT load_extension('x')").get()).toThrowError(/load_extension\(\) is not available/);
      expect(() => session.db.prepare('DELETE FROM fds').run()).toThrowError(/readonly/);
    } finally {
      session.close();
    }
  });

  it('binds parameters by name, never into the text', async () => {
    const evil = "1; DROP TABLE tasks; --";
    const r = await runCli(['query', 'SELECT :v AS v, typeof(:v) AS t, :n + 1 AS n', '-p', `v=${evil}`, '-p', 'n=41', '--json'], { db });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ v: evil, t: 'text', n: 42 }]);
    const big = await runCli(['query', 'SELECT :b AS b, typeof(:b) AS t, :z AS z', '-p', 'b=9007199254740993', '-p', 'z=007', '--json'], { db });
    expect(big.stdout).toBe('[\n{"b":9007199254740993,"t":"integer","z":"007"}\n]\n');
  });
});
