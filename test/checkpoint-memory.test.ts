/**
 * The memory a checkpoint keeps: two checkpoints of one process share what did not
 * change, the store grows by about what did, diff names the areas that changed, and
 * mem finds and gives back bytes of it exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { FIXTURES } from './helpers/processes.js';
import { NO_CRIU, checkpointed, ckptdb, isRoot, lines, startTree, until } from './helpers/criuRun.js';

interface Holder {
  data: number;
  secret: number;
  marker: string;
}

const hex = (n: number | bigint) => BigInt(n).toString(16).padStart(16, '0');

async function holder(dir: string): Promise<{ pid: number; info: Holder; secret: Buffer }> {
  const out = join(dir, 'holder');
  const pid = startTree('python3', [join(FIXTURES, 'memory-holder.py'), out], out);
  await until(() => lines(out).length > 0, 10_000, 'the holder');
  return { pid, info: JSON.parse(lines(out)[0]!) as Holder, secret: readFileSync(`${out}.secret`) };
}

/** Bytes the store's packs take, and the chunks of a checkpoint's pages images. */
function storage(db: string, id?: number): { packBytes: number; pageChunks: Set<number> } {
  const store = openStore(db);
  try {
    const packBytes = store.db.prepare('SELECT coalesce(sum(length(data)), 0) FROM criu_packs').pluck().get() as number;
    const pageChunks = new Set(
      id === undefined ? [] : (store.db.prepare("SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = ? AND i.name LIKE 'pages-%'").pluck().all(id) as number[]),
    );
    return { packBytes, pageChunks };
  } finally {
    store.close();
  }
}

describe.skipIf(!!NO_CRIU || !isRoot)(`memory of checkpoints ${NO_CRIU}`, () => {
  it('two checkpoints 2 s apart share their unchanged pages; the store grows by about the changed ones; diff names the areas', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const { pid, info } = await holder(dir);
    const a = await checkpointed(db, [String(pid), '--label', 'a']);
    const first = storage(db, a);
    await new Promise((r) => setTimeout(r, 2000));
    const b = await checkpointed(db, [String(pid), '--label', 'b']);
    const second = storage(db, b);

    // 8 MiB of random bytes cannot be compressed: the first checkpoint holds them
    expect(first.packBytes).toBeGreaterThan(8 << 20);
    const shared = [...second.pageChunks].filter((c) => first.pageChunks.has(c)).length;
    expect(shared / second.pageChunks.size).toBeGreaterThan(0.9);

    const diff = JSON.parse((await ckptdb(db, ['diff', String(a), String(b), '--only', 'maps', '--json'])).stdout) as {
      maps: { changed: { key: { pid: number; start: string }; changes: Record<string, { new: unknown }> }[] };
    };
    const changedPages = diff.maps.changed.reduce((n, e) => n + Number(e.changes.pages?.new ?? 0), 0);
    const growth = second.packBytes - first.packBytes;
    // about the pages that changed: what compression saves, less a pack of the other images
    expect(growth).toBeLessThanOrEqual(changedPages * 4096 + 256 * 1024);
    expect(growth).toBeLessThan(1 << 20);
    // the area of the 8 MiB is among those that changed, by the 4 pages the holder writes to
    const areas = JSON.parse((await ckptdb(db, ['mem', String(a), '--pid', String(pid), '--json'])).stdout) as { start: string; end: string; pages: number }[];
    const dataArea = areas.find((m) => m.start <= hex(info.data) && hex(info.data) < m.end)!;
    expect(dataArea.pages).toBeGreaterThanOrEqual(2048);
    const changed = diff.maps.changed.find((e) => e.key.start === dataArea.start)!;
    expect(changed.key.pid).toBe(pid);
    expect(changed.changes.pages!.new).toBeGreaterThanOrEqual(1);
    expect(changed.changes.pages!.new).toBeLessThanOrEqual(8);
    const text = (await ckptdb(db, ['diff', String(a), String(b)])).stdout;
    expect(text).toMatch(new RegExp(`~ map ${dataArea.start}: \\d+ pages? differs?`));
  });

  it('mem --search finds a marker in the heap, and --dump gives back the exact bytes', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.sqlite');
    const { pid, info, secret } = await holder(dir);
    const id = await checkpointed(db, [String(pid)]);

    const hits = JSON.parse((await ckptdb(db, ['mem', String(id), '--pid', String(pid), '--search', info.marker, '--json'])).stdout) as { address: string; area: string; context: string }[];
    expect(hits.length).toBeGreaterThanOrEqual(1);
    for (const h of hits) expect(h.context).toContain(info.marker);
    const first = hits[0]!;
    const dumped = await ckptdb(db, ['mem', String(id), '--pid', String(pid), '--dump', `0x${first.address}:${info.marker.length}`]);
    expect(dumped.stdout).toBe(info.marker);

    const out = join(dir, 'secret.bin');
    const r = await ckptdb(db, ['mem', String(id), '--pid', String(pid), '--dump', `${hex(info.secret)}:65536`, '--out', out]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(out).equals(secret)).toBe(true);
    // and by hex, the first 16 of those bytes lead to the same place
    const byHex = JSON.parse((await ckptdb(db, ['mem', String(id), '--pid', String(pid), '--hex', secret.subarray(0, 16).toString('hex'), '--json'])).stdout) as { address: string }[];
    expect(byHex.map((h) => h.address)).toContain(hex(info.secret));
    const none = await ckptdb(db, ['mem', String(id), '--pid', String(pid), '--search', 'no such text in there, surely: ' + 'q'.repeat(40)]);
    expect(none).toMatchObject({ code: 0, stderr: 'not found\n' });
    expect(none.stdout.trim().split('\n')).toHaveLength(2);
  });
});
