/**
 * `npm run bench -- criu [tasks] [fds] [checkpoints] [MiB] [dump MiB]`, or
 * `npm run bench -- criu dump [MiB]` for the real dump alone:
 *
 * 1. A generated CRIU image directory of 1,000 tasks (250 processes of 4 threads) and
 *    100,000 fds, each on a file of its own, imported into a fresh store, against
 *    `crit decode` of every image of the same directory, in the same run. crit runs as
 *    one Python process decoding image after image exactly as `crit decode` does
 *    (pycriu.images.load, then json.dump), so it pays its interpreter start once, not
 *    once per image as the CLI would; `crit decode` of files.img alone is timed as the
 *    CLI too.
 * 2. 20 successive checkpoints of one workload with 64 MiB of pages each, 5% of the
 *    pages changed between one and the next, imported into one store: the store's size
 *    against the images' size of one checkpoint.
 * 3. The last of them through the restore image (NDJSON, which carries CRIU's files as
 *    base64 chunks): export and import times against export --format criu and the
 *    CRIU import of the same checkpoint, and the image's size against the images'.
 * 4. A real dump: a python process holding 256 MiB (the 5th argument) of memory, half
 *    unique random bytes and half one page repeated, dumped by CRIU 4.x (CKPTDB_CRIU,
 *    else CKPTDB_TEST_CRIU, else criu on PATH; left out, saying why, without one). The
 *    dump's time, and the import's MB/s against reading and hashing every 4 KiB of
 *    the dump (SHA-256, what the content-addressed store does at the least) in the
 *    same run.
 *
 * Core images come from `crit encode` of the test fixture (registers included); the
 * generator varies their pids and comms through ckptdb's own encoder, which keeps
 * the registers as unknown fields.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { exportImage, importImage, openStore, type Store } from '../src/index.js';
import { exportCriu, importCriu } from '../src/formats/criu/index.js';
import { encodeImage, encodeMessage } from '../src/formats/criu/imageFile.js';
import { kindNamed } from '../src/formats/criu/magic.js';
import { core_entrySchema, task_kobj_ids_entrySchema } from '../src/formats/criu/gen/core_pb.js';
import { fdinfo_entrySchema, file_entrySchema } from '../src/formats/criu/gen/fdinfo_pb.js';
import { fown_entrySchema } from '../src/formats/criu/gen/fown_pb.js';
import { fs_entrySchema } from '../src/formats/criu/gen/fs_pb.js';
import { inventory_entrySchema } from '../src/formats/criu/gen/inventory_pb.js';
import { pstree_entrySchema } from '../src/formats/criu/gen/pstree_pb.js';
import { pagemap_entrySchema, pagemap_headSchema } from '../src/formats/criu/gen/payload_pb.js';
import { FIXTURE_IMAGES, writeImages } from '../test/helpers/criuFixture.js';
import type { Figure } from './report.js';

const PAGE = 4096;

function image<Desc extends DescMessage>(dir: string, name: string, kind: string, schema: Desc, msgs: MessageShape<Desc>[]): void {
  writeFileSync(join(dir, name), encodeImage(kindNamed(kind), undefined, msgs.map((m) => ({ payload: encodeMessage(schema, m) }))));
}

/** A CRIU directory of `processes` processes of `threads` threads, `fds` fds in all, and `pages` pages of memory. */
export async function generate(dir: string, processes: number, threads: number, fdsPerProcess: number, pages: Buffer): Promise<void> {
  const templates = mkdtempSync(join(tmpdir(), 'ckptdb-bench-tpl-'));
  await writeImages(templates, { 'leader.img': FIXTURE_IMAGES['core-100.img']!, 'thread.img': FIXTURE_IMAGES['core-101.img']!, 'mm.img': FIXTURE_IMAGES['mm-110.img']! });
  const leaderCore = readFileSync(join(templates, 'leader.img')).subarray(12);
  const threadCore = readFileSync(join(templates, 'thread.img')).subarray(12);
  const mm = readFileSync(join(templates, 'mm.img'));
  rmSync(templates, { recursive: true });

  image(dir, 'inventory.img', 'INVENTORY', inventory_entrySchema, [create(inventory_entrySchema, { imgVersion: 2, fdinfoPerId: true })]);
  const fown = create(fown_entrySchema, { uid: 0, euid: 0, signum: 0, pidType: 0, pid: 0 });
  const files: MessageShape<typeof file_entrySchema>[] = [
    create(file_entrySchema, { type: 1, id: 1, reg: { id: 1, flags: 0o200000, pos: 0n, fown, name: '/', mntId: 22, mode: 0o40755 } }),
    create(file_entrySchema, { type: 1, id: 2, reg: { id: 2, flags: 0o100000, pos: 0n, fown, name: '/usr/bin/worker', mntId: 22, mode: 0o100755 } }),
  ];
  const tree: MessageShape<typeof pstree_entrySchema>[] = [];
  let fileId = 10;
  for (let p = 0; p < processes; p++) {
    const pid = 1000 + p * threads;
    const tids = Array.from({ length: threads }, (_, i) => pid + i);
    tree.push(create(pstree_entrySchema, { pid, ppid: p === 0 ? 0 : 1000, pgid: 1000, sid: 1000, threads: tids }));
    for (const tid of tids) {
      const core = fromBinary(core_entrySchema, tid === pid ? leaderCore : threadCore);
      if (core.tc) core.tc.comm = `worker-${p}`;
      if (core.threadCore) core.threadCore.comm = `worker-${p}:${tid - pid}`;
      image(dir, `core-${tid}.img`, 'CORE', core_entrySchema, [core]);
    }
    image(dir, `ids-${pid}.img`, 'IDS', task_kobj_ids_entrySchema, [create(task_kobj_ids_entrySchema, { vmId: 10 * p + 1, filesId: 10 * p + 2, fsId: 10 * p + 3, sighandId: 10 * p + 4, pidNsId: 5, netNsId: 6, mntNsId: 9 })]);
    image(dir, `fs-${pid}.img`, 'FS', fs_entrySchema, [create(fs_entrySchema, { cwdId: 1, rootId: 1 })]);
    writeFileSync(join(dir, `mm-${pid}.img`), patchExe(mm));
    const fdinfo: MessageShape<typeof fdinfo_entrySchema>[] = [];
    for (let fd = 0; fd < fdsPerProcess; fd++) {
      const id = fileId++;
      const kind = fd % 10;
      if (kind < 7) files.push(create(file_entrySchema, { type: 1, id, reg: { id, flags: 0o102, pos: BigInt(fd * 512), fown, name: `/data/${pid}/file-${fd}.log`, mntId: 22, size: 1n << 20n, mode: 0o100644 } }));
      else if (kind < 9) files.push(create(file_entrySchema, { type: 2, id, pipe: { id, pipeId: 100000 + Math.floor(id / 2), flags: kind === 7 ? 0 : 1 } }));
      else files.push(create(file_entrySchema, { type: 5, id, usk: { id, ino: 200000 + id, type: 1, state: 1, flags: 2, uflags: 0, backlog: 0, peer: 200000 + id + 1, name: new Uint8Array() } }));
      fdinfo.push(create(fdinfo_entrySchema, { id, flags: fd % 3 === 0 ? 1 : 0, type: files.at(-1)!.type, fd }));
    }
    image(dir, `fdinfo-${10 * p + 2}.img`, 'FDINFO', fdinfo_entrySchema, fdinfo);
  }
  image(dir, 'pstree.img', 'PSTREE', pstree_entrySchema, tree);
  image(dir, 'files.img', 'FILES', file_entrySchema, files);
  writeFileSync(join(dir, 'pagemap-1000.img'), encodeImage(kindNamed('PAGEMAP'), undefined, [
    { payload: encodeMessage(pagemap_headSchema, create(pagemap_headSchema, { pagesId: 1 })) },
    { payload: encodeMessage(pagemap_entrySchema, create(pagemap_entrySchema, { vaddr: 0x7f0000000000n, compatNrPages: 0, nrPages: BigInt(pages.length / PAGE), flags: 4 })) },
  ]));
  writeFileSync(join(dir, 'pages-1.img'), pages);
}

/** The fixture's mm image names exe file 4 and map file 4; the generated files.img has the worker at id 2. */
function patchExe(mm: Buffer): Buffer {
  const { mm_entrySchema } = mmSchema;
  const msg = fromBinary(mm_entrySchema, mm.subarray(12));
  msg.exeFileId = 2;
  for (const v of msg.vmas) if (v.shmid === 4n) v.shmid = 2n;
  return encodeImage(kindNamed('MM'), undefined, [{ payload: encodeMessage(mm_entrySchema, msg) }]);
}
const mmSchema = await import('../src/formats/criu/gen/mm_pb.js');

const CRIT_DECODE = `
import json, os, sys, time
sys.path.insert(0, '/usr/lib/python3/dist-packages')
import pycriu
d = sys.argv[1]
names = sorted(n for n in os.listdir(d) if n.endswith('.img') and not n.startswith('pages-'))
t0 = time.time()
for n in names:
    with open(os.path.join(d, n), 'rb') as f:
        img = pycriu.images.load(f, False, False)
    with open(os.devnull, 'w') as out:
        json.dump(img, out)
print(json.dumps({'seconds': time.time() - t0, 'images': len(names)}))
`;

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function storeBytes(path: string): number {
  return [path, `${path}-wal`].reduce((n, f) => {
    try {
      return n + statSync(f).size;
    } catch {
      return n;
    }
  }, 0);
}

async function decodeVersusCrit(tasks: number, fds: number): Promise<Figure[]> {
  const threads = 4;
  const processes = Math.max(1, Math.round(tasks / threads));
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-criu-'));
  const storeDir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-store-'));
  try {
    await generate(dir, processes, threads, Math.round(fds / processes), randomBytes(PAGE));
    const store = openStore(join(storeDir, 'store.sqlite'));
    const t0 = performance.now();
    const r = await importCriu(store, dir);
    const importSeconds = (performance.now() - t0) / 1000;
    store.close();
    const crit = JSON.parse(execFileSync('/usr/bin/python3', ['-c', CRIT_DECODE, dir], { encoding: 'utf8', maxBuffer: 1 << 20 })) as { seconds: number; images: number };
    const t1 = performance.now();
    execFileSync('crit', ['decode', '-i', join(dir, 'files.img'), '-o', '/dev/null']);
    const critFilesCli = (performance.now() - t1) / 1000;
    return [
      { name: 'tasks', value: r.counts.tasks, unit: 'tasks' },
      { name: 'fds', value: r.counts.fds, unit: 'fds' },
      { name: 'images', value: crit.images, unit: 'files' },
      { name: 'image bytes', value: Math.round(dirBytes(dir) / 2 ** 20 * 10) / 10, unit: 'MiB' },
      { name: 'ckptdb import', value: importSeconds, unit: 's' },
      { name: 'crit decode, all images, one process', value: crit.seconds, unit: 's' },
      { name: 'crit decode files.img (CLI)', value: critFilesCli, unit: 's' },
      { name: 'import / crit decode', value: importSeconds / crit.seconds, unit: 'ratio', target: '< 1', ok: importSeconds < crit.seconds },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  }
}

async function successiveCheckpoints(checkpoints: number, mib: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-criu-'));
  const storeDir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-store-'));
  try {
    const pages = randomBytes(mib * 2 ** 20);
    const nPages = pages.length / PAGE;
    await generate(dir, 4, 2, 16, pages);
    const oneCheckpoint = dirBytes(dir);
    const path = join(storeDir, 'store.sqlite');
    const store = openStore(path);
    let seconds = 0;
    let last = 0;
    for (let i = 0; i < checkpoints; i++) {
      if (i > 0) {
        for (let k = 0; k < Math.round(nPages * 0.05); k++) randomBytes(PAGE).copy(pages, Math.floor(Math.random() * nPages) * PAGE);
        writeFileSync(join(dir, 'pages-1.img'), pages);
      }
      const t0 = performance.now();
      last = (await importCriu(store, dir, { label: `run ${i}` })).checkpointId;
      seconds += (performance.now() - t0) / 1000;
    }
    const image = await throughImage(store, last, storeDir, oneCheckpoint);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    const stored = storeBytes(path);
    const ratio = stored / oneCheckpoint;
    return [
      { name: 'checkpoints', value: checkpoints, unit: 'checkpoints' },
      { name: 'images of one checkpoint', value: Math.round(oneCheckpoint / 2 ** 20 * 10) / 10, unit: 'MiB' },
      { name: 'images of all checkpoints', value: Math.round((oneCheckpoint * checkpoints) / 2 ** 20), unit: 'MiB' },
      { name: 'store size', value: Math.round(stored / 2 ** 20 * 10) / 10, unit: 'MiB' },
      { name: 'store / one checkpoint', value: ratio, unit: 'ratio', target: '< 3', ok: ratio < 3 },
      { name: `import of ${mib} MiB checkpoint (mean)`, value: seconds / checkpoints, unit: 's' },
      ...image,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  }
}

/** One CRIU checkpoint out as a restore image and into a fresh store, beside export --format criu of it. */
async function throughImage(store: Store, id: number, workDir: string, imagesBytes: number): Promise<Figure[]> {
  const t0 = performance.now();
  await exportCriu(store, id, join(workDir, 'dump'));
  const criuExport = (performance.now() - t0) / 1000;
  const path = join(workDir, 'checkpoint.ndjson');
  const t1 = performance.now();
  await exportImage(store, id, 'ndjson', { path });
  const imageExport = (performance.now() - t1) / 1000;
  const copy = openStore(join(workDir, 'copy.sqlite'));
  const t2 = performance.now();
  await importImage(copy, path);
  const imageImport = (performance.now() - t2) / 1000;
  copy.close();
  const t3 = performance.now();
  const fresh = openStore(join(workDir, 'fresh.sqlite'));
  await importCriu(fresh, join(workDir, 'dump'));
  const criuImport = (performance.now() - t3) / 1000;
  fresh.close();
  const ratio = statSync(path).size / imagesBytes;
  return [
    { name: 'export --format criu of the last', value: criuExport, unit: 's' },
    { name: 'export as image (NDJSON)', value: imageExport, unit: 's' },
    { name: 'image export / criu export', value: imageExport / criuExport, unit: 'ratio' },
    { name: 'CRIU import into a fresh store', value: criuImport, unit: 's' },
    { name: 'image import into a fresh store', value: imageImport, unit: 's' },
    { name: 'image import / CRIU import', value: imageImport / criuImport, unit: 'ratio' },
    { name: 'image size / images size', value: ratio, unit: 'ratio', target: '< 1.4 (base64)', ok: ratio < 1.4 },
  ];
}

const HOLDER = `
import os, sys, time
half = int(sys.argv[2]) * 2**20 // 2
unique = bytearray(os.urandom(half))
page = os.urandom(4096)
repeated = bytearray(page * (half // 4096))
with open(sys.argv[1] + '.tmp', 'w') as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
while True:
    time.sleep(3600)
`;

/** CRIU 4.x for the real dump, or why there is none. */
function criu4(): { path: string } | { missing: string } {
  const path = process.env.CKPTDB_CRIU || process.env.CKPTDB_TEST_CRIU || 'criu';
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const v = /Version:\s*(\d+)/.exec(out);
    return v && Number(v[1]) >= 4 ? { path } : { missing: `${path} is not CRIU 4.x` };
  } catch (e) {
    return { missing: `${path} does not run: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function realDump(mib: number): Promise<Figure[]> {
  const tool = criu4();
  if ('missing' in tool) {
    process.stderr.write(`criu bench: no real dump (${tool.missing}); set CKPTDB_CRIU to CRIU 4.x\n`);
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), 'ckptdb-bench-dump-'));
  const dir = join(work, 'dump');
  const ready = join(work, 'pid');
  const child = spawn('/usr/bin/python3', ['-c', HOLDER, ready, String(mib)], { detached: true, stdio: 'ignore' });
  child.unref();
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(ready)) {
      if (Date.now() > deadline) throw new Error('the memory holder did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = Number(readFileSync(ready, 'utf8'));
    mkdirSync(dir);
    const t0 = performance.now();
    execFileSync(tool.path, ['dump', '-t', String(pid), '-D', dir, '--leave-running', '-o', 'dump.log']);
    const dumpSeconds = (performance.now() - t0) / 1000;
    const bytes = dirBytes(dir);
    const t1 = performance.now();
    let chunks = 0;
    for (const name of readdirSync(dir)) {
      const data = readFileSync(join(dir, name));
      for (let at = 0; at < data.length; at += PAGE) {
        createHash('sha256').update(data.subarray(at, at + PAGE)).digest();
        chunks++;
      }
    }
    const hashSeconds = (performance.now() - t1) / 1000;
    const store = openStore(join(work, 'store.sqlite'));
    const t2 = performance.now();
    const r = await importCriu(store, dir);
    const importSeconds = (performance.now() - t2) / 1000;
    store.close();
    const mb = bytes / 1e6;
    return [
      { name: 'real dump: memory held', value: mib, unit: 'MiB' },
      { name: 'real dump: criu dump --leave-running', value: dumpSeconds, unit: 's' },
      { name: 'real dump: images', value: Math.round((bytes / 2 ** 20) * 10) / 10, unit: 'MiB' },
      { name: 'real dump: 4 KiB chunks', value: chunks, unit: 'chunks' },
      { name: 'real dump: new to the store', value: Math.round((r.newBytes / 2 ** 20) * 10) / 10, unit: 'MiB' },
      { name: 'real dump: import', value: importSeconds, unit: 's' },
      { name: 'real dump: import', value: mb / importSeconds, unit: 'MB/s' },
      { name: 'real dump: read and SHA-256 of every chunk', value: mb / hashSeconds, unit: 'MB/s' },
      { name: 'real dump: import / read and hash', value: importSeconds / hashSeconds, unit: 'ratio' },
    ];
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    rmSync(work, { recursive: true, force: true });
  }
}

export default async function criuBench(args: string[]): Promise<Figure[]> {
  if (args[0] === 'dump') return realDump(Number(args[1] ?? 256));
  const tasks = Number(args[0] ?? 1000);
  const fds = Number(args[1] ?? 100_000);
  const checkpoints = Number(args[2] ?? 20);
  const mib = Number(args[3] ?? 64);
  const dumpMib = Number(args[4] ?? 256);
  return [...(await decodeVersusCrit(tasks, fds)), ...(await successiveCheckpoints(checkpoints, mib)), ...(await realDump(dumpMib))];
}
