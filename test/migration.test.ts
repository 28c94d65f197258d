/**
 * A store made by an older ckptdb is carried forward when it is opened: the fixture
 * test/fixtures/store-v4/ is a store of schema version 4 (live captures, an imported
 * image, a CRIU checkpoint; make.mjs there tells how it was made) with what that
 * version's CLI printed for it. Migrated by this ckptdb, every checkpoint must read,
 * diff and export exactly as it did, and the store must take new checkpoints. Later
 * versions print more beside what that one printed (text forms, task states, socket
 * families, file details): every value it printed must come out the same, in the same
 * place and order.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { latestVersion, loadMigrations } from '../src/store/migrate.js';
import { runCli } from './helpers/cli.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/store-v4/', import.meta.url));

function oldStore(): string {
  const db = join(tempDir(), 'store.sqlite');
  writeFileSync(db, gunzipSync(readFileSync(join(FIXTURE, 'store.sqlite.gz'))), { mode: 0o600 });
  return db;
}

const expected = JSON.parse(gunzipSync(readFileSync(join(FIXTURE, 'expected.json.gz'))).toString('utf8')) as Record<string, string>;

/** The command that printed an output of the fixture, from its name. */
function commandOf(name: string): string[] {
  let m = /^(show|ps|fds|objects|export)-(\d+)\.json$/.exec(name);
  if (m) return m[1] === 'export' ? ['export', m[2]!] : [m[1]!, m[2]!, '--json'];
  m = /^q-([a-z_]+)-(\d+)\.json$/.exec(name);
  if (m) return ['q', m[1]!, '-p', `checkpoint=${m[2]}`, '-p', 'limit=-1', '--json'];
  m = /^diff-(\d+)-(\d+)\.json$/.exec(name);
  if (m) return ['diff', m[1]!, m[2]!, '--format', 'json'];
  if (name === 'list.json') return ['list', '--json'];
  if (name === 'verify.txt') return ['verify'];
  throw new Error(`no command for ${name}`);
}

/** Runs the commands two at a time (the machine has two cores); stdout by name. */
async function outputs(db: string, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const queue = [...names];
  const work = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const r = await runCli(commandOf(name), { db });
      if (r.code !== 0 && !(name.startsWith('diff-') && r.code === 1)) throw new Error(`${name}: exit ${r.code}: ${r.stderr}`);
      out.set(name, r.stdout);
    }
  };
  await Promise.all([work(), work()]);
  return out;
}

/** What `sha256sum *` printed in a directory, sorted by name. */
function digests(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((f) => `${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')}  ${f}\n`)
    .join('');
}

/**
 * The JSON `now`, cut to the shape of the JSON `then`: the keys `then` has, in its order,
 * and arrays of its length; a value `now` lacks stays missing, so it differs.
 */
function asPrinted(now: unknown, then: unknown): unknown {
  if (Array.isArray(then)) return Array.isArray(now) && now.length === then.length ? now.map((v, i) => asPrinted(v, then[i])) : now;
  if (then === null || typeof then !== 'object' || now === null || typeof now !== 'object' || Array.isArray(now)) return now;
  const n = now as Record<string, unknown>;
  return Object.fromEntries(Object.entries(then).map(([k, v]) => [k, asPrinted(n[k], v)]));
}

const isJson = (text: string) => /^\s*[[{]/.test(text);
const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function schemaOf(path: string): { type: string; name: string; sql: string | null }[] {
  const store = openStore(path);
  const rows = store.db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name").all() as { type: string; name: string; sql: string | null }[];
  store.close();
  return rows;
}

describe('a store of schema version 4', () => {
  it('is migrated when opened, to the schema a new store has', () => {
    const db = oldStore();
    const store = openStore(db);
    expect(store.db.pragma('user_version', { simple: true })).toBe(latestVersion());
    // every migration after version 4 is recorded: the file details' and the chunk packs' as well as the layout's
    const applied = store.db.prepare('SELECT version FROM schema_migrations WHERE version > 4 ORDER BY version').pluck().all();
    expect(applied).toEqual(loadMigrations().map((m) => m.version).filter((v) => v > 4));
    expect(applied.slice(0, 3)).toEqual([5, 6, 7]);
    store.close();
    expect(schemaOf(db)).toEqual(schemaOf(tempStorePath()));
  });

  it('reads, diffs and exports every checkpoint as it did before', async () => {
    const db = oldStore();
    const names = Object.keys(expected).filter((n) => n !== 'export-4-criu.txt');
    // list first: the first command that opens the store for writing migrates it
    const listed = await runCli(['list', '--json'], { db });
    expect(listed.stdout).toBe(expected['list.json']);
    const got = await outputs(db, names);
    // a diff names the store file it read, which is another one now
    const unplaced = (text: string) => text.replace(/"store":"[^"]*"/g, '"store":""');
    for (const name of names) {
      const then = unplaced(expected[name]!);
      const now = unplaced(got.get(name)!);
      if (isJson(then)) expect(pretty(asPrinted(JSON.parse(now), JSON.parse(then))), name).toBe(pretty(JSON.parse(then)));
      else expect(now, name).toBe(then);
    }
    const criu = join(tempDir(), 'criu');
    expect((await runCli(['export', '4', '--format', 'criu', '--out', criu], { db })).code).toBe(0);
    expect(digests(criu)).toBe(expected['export-4-criu.txt']);
  }, 120_000);

  it('takes new checkpoints after the migration, with row ids above every old one', async () => {
    const db = oldStore();
    const before = openStore(db);
    const max = (table: string) => before.db.prepare(`SELECT max(id) FROM ${table}`).pluck().get() as number;
    const old = { objects: max('shared_objects'), tasks: max('tasks'), fds: max('fds'), maps: max('maps') };
    before.close();
    const r = await runCli(['import', '-', '--label', 'again'], { db, input: expected['export-1.json'] });
    expect(r.code, r.stderr).toBe(0);
    const id = Number(r.stdout);
    const store = openStore(db);
    const min = (table: string) => store.db.prepare(`SELECT min(id) FROM ${table} WHERE checkpoint_id = ?`).pluck().get(id) as number;
    expect(min('shared_objects')).toBeGreaterThan(old.objects);
    expect(min('tasks')).toBeGreaterThan(old.tasks);
    expect(min('fds')).toBeGreaterThan(old.fds);
    expect(min('maps')).toBeGreaterThan(old.maps);
    expect(store.verify()).toEqual([]);
    store.close();
    // the copy diffs as identical to the checkpoint it was exported from
    expect((await runCli(['diff', '1', String(id)], { db })).code).toBe(0);
  });
});
