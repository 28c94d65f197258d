/**
 * The memory of real CRIU checkpoints through PostgreSQL: pages read out of the local
 * store's packs when pushed, written into packs of a store when pulled, so a pulled
 * checkpoint exports the bytes the local one does; mem reads them from PostgreSQL; diff
 * counts the pages that changed per map in PostgreSQL as on SQLite, also where the
 * pages stayed on their host (their hashes and the page index go with every push).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_CRIU, checkpointed, ckptdb, isRoot, lines, startTree, until } from './helpers/criuRun.js';
import { postgresMissing, testPostgres } from './helpers/postgres.js';
import { FIXTURES } from './helpers/processes.js';
import { tempDir } from './helpers/tmp.js';

const missing = postgresMissing() ?? (NO_CRIU || (isRoot ? '' : 'CRIU dumps need root'));

async function ok(db: string, args: string[]) {
  const r = await ckptdb(db, args);
  if (r.code !== 0) throw new Error(`ckptdb ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

interface MapsDiff {
  summary: Record<string, unknown>;
  maps: { changed: { key: { pid: number; start: string }; changes: Record<string, { new: unknown }> }[] };
}

const mapsOf = (stdout: string) => {
  const d = JSON.parse(stdout) as MapsDiff;
  return { summary: d.summary, maps: d.maps };
};

describe.skipIf(!!missing)(`memory of CRIU checkpoints through PostgreSQL${missing ? ` (${missing})` : ''}`, () => {
  it('pull gives the bytes back, mem reads them there, diff counts changed pages per map as SQLite does', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const out = join(dir, 'holder');
    // 8 MiB of random bytes, one byte of its first 4 pages changed every 100 ms
    const pid = startTree('python3', [join(FIXTURES, 'memory-holder.py'), out], out);
    await until(() => lines(out).length > 0, 10_000, 'the holder');
    const { data } = JSON.parse(lines(out)[0]!) as { data: number };
    const a = await checkpointed(db, [String(pid), '--label', 'a']);
    await new Promise((r) => setTimeout(r, 500));
    const b = await checkpointed(db, [String(pid), '--label', 'b']);

    const url = testPostgres().database('memory');
    expect((await ok(db, ['push', '--to', url, '--with-pages'])).stdout).toBe(`${a}\n${b}\n`);

    // pulled into a store of its own, checkpoint b exports what the local store exports
    const other = join(dir, 'other.sqlite');
    await ok(other, ['pull', String(b), '--from', url]);
    const local = join(dir, 'local');
    const pulled = join(dir, 'pulled');
    await ok(db, ['export', String(b), '--format', 'criu', '--out', local]);
    await ok(other, ['export', '1', '--format', 'criu', '--out', pulled]);
    const names = readdirSync(local).sort();
    expect(names.filter((n) => n.startsWith('pages-')).length).toBeGreaterThan(0);
    expect(readdirSync(pulled).sort()).toEqual(names);
    for (const name of names) expect(readFileSync(join(pulled, name)).equals(readFileSync(join(local, name))), name).toBe(true);
    expect(await ckptdb(other, ['verify'])).toMatchObject({ code: 0, stderr: 'ok: the store is consistent\n' });

    // mem of the PostgreSQL store: the bytes of the local one
    const range = `${data.toString(16)}:65536`;
    await ok(db, ['mem', String(b), '--pid', String(pid), '--dump', range, '--out', join(dir, 'local.bin')]);
    await ok(db, ['--db', url, 'mem', String(b), '--pid', String(pid), '--dump', range, '--out', join(dir, 'postgres.bin')]);
    expect(readFileSync(join(dir, 'local.bin')).length).toBe(65536);
    expect(readFileSync(join(dir, 'postgres.bin')).equals(readFileSync(join(dir, 'local.bin')))).toBe(true);
    const areas = await ok(db, ['mem', String(b), '--pid', String(pid), '--json']);
    expect(await ckptdb(db, ['--db', url, 'mem', String(b), '--pid', String(pid), '--json'])).toEqual(areas);

    // diff in PostgreSQL, and of the local store against PostgreSQL, as on SQLite
    const onSqlite = mapsOf((await ckptdb(db, ['diff', String(a), String(b), '--only', 'maps', '--json'])).stdout);
    const changed = onSqlite.maps.changed.filter((e) => e.changes.pages !== undefined);
    expect(changed.length).toBeGreaterThan(0);
    // the area of the 8 MiB changed by the few pages the holder writes to
    const hex = data.toString(16).padStart(16, '0');
    const area = (JSON.parse(areas.stdout) as { start: string; end: string }[]).find((m) => m.start <= hex && hex < m.end)!;
    const dataArea = changed.find((e) => e.key.start === area.start && e.key.pid === pid);
    expect(dataArea?.changes.pages?.new, JSON.stringify(changed)).toBeGreaterThanOrEqual(1);
    expect(dataArea?.changes.pages?.new).toBeLessThanOrEqual(8);
    const inPostgres = await ckptdb(db, ['--db', url, 'diff', String(a), String(b), '--only', 'maps', '--json']);
    expect(inPostgres.code, inPostgres.stderr).toBe(1);
    expect(mapsOf(inPostgres.stdout)).toEqual(onSqlite);
    const across = await ckptdb(db, ['diff', String(a), String(b), '--db-b', url, '--only', 'maps', '--json']);
    expect(mapsOf(across.stdout)).toEqual(onSqlite);
    const text = (await ckptdb(db, ['--db', url, 'diff', String(a), String(b), '--only', 'maps'])).stdout;
    expect(text).toContain(`~ map ${dataArea!.key.start}: ${String(dataArea!.changes.pages!.new)} page`);

    // without their pages: diff counts the same, mem and pull say what is missing
    const bare = testPostgres().database('bare');
    await ok(db, ['push', '--to', bare]);
    expect(mapsOf((await ckptdb(db, ['--db', bare, 'diff', String(a), String(b), '--only', 'maps', '--json'])).stdout)).toEqual(onSqlite);
    expect(await ckptdb(db, ['--db', bare, 'mem', String(b), '--pid', String(pid)])).toEqual({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^ckptdb: checkpoint 2 in postgresql:.* lacks \d+ chunks of its CRIU files: its memory pages stayed on its host \(push it again from there with --with-pages\)\n$/),
    });
  });
});
