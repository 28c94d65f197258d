/**
 * `npm run bench -- diff [processes] [fdsPerProcess] [runs] [checkpoints] [MiB]`:
 *
 * Two checkpoints of 2,000 processes x 500 fds (1,000,000 fds each) written with the writer, B with 1% of
 * the fds changed, removed or added (a third each); every process's fds 0-2 share one
 * inherited tty, each other fd has an open file and inode of its own; 10 maps per
 * process, a thread in every tenth. Of those threads, every other one holds an fd
 * table of its own with the upper half of its process's fds (unshare(CLONE_FILES));
 * in the rest of those processes the main thread has exited (a zombie holding no
 * table), so the fds and maps are reached through the thread alone.
 *
 * Times the built CLI, `ckptdb diff` (exit 1 expected), on both checkpoints in one
 * store and on the same pair written as two store files, and `sqldiff` (Debian's
 * sqlite3-tools) on those two files; each the median of `runs`, output to /dev/null.
 * The same diff through the library on one thread shows what the worker thread saves.
 *
 * `[checkpoints] [MiB]` (default 20 x 64): CRIU checkpoints of one workload (bench/criu.ts's
 * generator) with that much memory in pages-1.img, 5% of the pages changed from one to
 * the next, imported into a store; a copy of that store with one more such checkpoint
 * is store B. Times `ckptdb diff` of the last two in one store, of the last of A
 * against the new one of B (two store files: chunk hashes compared, not ids), and of
 * the same checkpoint in both files (identical), checking the chunk counts reported.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type CheckpointWriter, type DiffDocument } from '../src/index.js';
import { importCriu } from '../src/formats/criu/index.js';
import { generate } from './criu.js';
import { median, type Figure } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** The same text diff through the library on one thread: what the worker thread saves. */
const ONE_THREAD = `
import { openDiff, diffText } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
const [path, a, b] = process.argv.slice(1);
const diff = await openDiff(path, Number(a), Number(b), { threads: 1 });
for (const chunk of diffText(diff)) process.stdout.write(chunk);
diff.close();
process.exitCode = diff.identical ? 0 : 1;
`;

interface Shape {
  processes: number;
  fdsPerProcess: number;
}

/** Every 100th fd from fd 50 of a process on is affected in B: changed, removed, or kept with one added beside it. */
function effect(n: number): 'changed' | 'removed' | 'added' | null {
  if (n % 100 !== 50) return null;
  return (['changed', 'removed', 'added'] as const)[Math.floor(n / 100) % 3]!;
}

function expectedCounts(shape: Shape): Record<'added' | 'removed' | 'changed', number> {
  const counts = { added: 0, removed: 0, changed: 0 };
  for (let p = 0; p < shape.processes; p++) {
    for (let fd = 3; fd < shape.fdsPerProcess; fd++) {
      const change = effect(p * shape.fdsPerProcess + fd);
      if (change) counts[change]++;
    }
  }
  return counts;
}

export function writeCheckpoint(w: CheckpointWriter, side: 'a' | 'b', shape: Shape): void {
  const tty = w.addFile({ key: 'tty', type: 'chr', path: '/dev/pts/0', flags: 2, mode: 0o20620, dev: '0:25', inode: 3,
    object: w.addSharedObject({ kind: 'inode', key: '0:25:3' }) });
  const net = w.addSharedObject({ kind: 'ns', key: 'net:[4026531840]' });
  for (let p = 0; p < shape.processes; p++) {
    const pid = 10_000 + p;
    const mm = w.addSharedObject({ kind: 'mm', key: `mm:${pid}` });
    const fdtable = w.addSharedObject({ kind: 'fdtable', key: `fdtable:${pid}` });
    const task = { tgid: pid, ppid: p === 0 ? 1 : 10_000, comm: 'worker', cmdline: ['worker', String(p)], mm, fdtable, namespaces: { net } };
    const tid = 100_000 + p;
    const threadTable = p % 20 === 0 ? w.addSharedObject({ kind: 'fdtable', key: `fdtable:${tid}` }) : null;
    const zombie = p % 20 === 10;
    w.addTask({ ...task, pid, startTime: 1_000_000 + p, ...(zombie ? { state: 'Z', mm: null, fdtable: null } : {}) });
    if (p % 10 === 0) w.addTask({ ...task, pid: tid, startTime: 2_000_000 + p, fdtable: threadTable ?? fdtable });
    const tableOf = (fd: number) => (threadTable !== null && fd % shape.fdsPerProcess >= shape.fdsPerProcess / 2 ? threadTable : fdtable);
    for (let fd = 0; fd < 3; fd++) w.addFd({ fdtable, fd, cloexec: false, file: tty });
    for (let fd = 3; fd < shape.fdsPerProcess; fd++) {
      const n = p * shape.fdsPerProcess + fd;
      const change = side === 'b' ? effect(n) : null;
      if (change === 'removed') continue;
      const fds = change === 'added' ? [fd, shape.fdsPerProcess + fd] : [fd];
      for (const f of fds) {
        const ino = pid * 10_000 + f;
        const inode = w.addSharedObject({ kind: 'inode', key: `8:1:${ino}` });
        const file = w.addFile({ key: `${pid}:${f}`, type: 'reg', path: `/data/${pid}/${f}`, pos: change === 'changed' ? f + 4096 : f,
          flags: 0o100002, mode: 0o100644, dev: '8:1', inode: ino, object: inode });
        w.addFd({ fdtable: tableOf(f), fd: f, cloexec: f % 2 === 0, file });
      }
    }
    for (let m = 0; m < 10; m++) {
      const start = 0x7f0000000000n + BigInt(m) * 0x100000n;
      w.addMap({ mm, start, end: start + 0x21000n, perms: m === 0 ? 'r-xp' : 'rw-p', pgoff: 0, path: m === 0 ? '/usr/bin/worker' : null });
    }
  }
}

function write(path: string, side: 'a' | 'b', shape: Shape): void {
  const store = openStore(path);
  const w = store.beginCheckpoint({ source: 'proc', label: side });
  writeCheckpoint(w, side, shape);
  w.done();
  store.close();
}

/** Wall time of a command, with its peak RSS when GNU time is there to tell it. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; status: number | null; peakRss: number | null } {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const res = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    : spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  const kb = gnuTime ? Number(/(\d+)\s*$/.exec(res.stderr)?.[1]) : NaN;
  return { seconds, status: res.status, peakRss: Number.isFinite(kb) ? kb * 1024 : null };
}

function medianRun(runs: number, cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const results = Array.from({ length: runs }, () => timed(cmd, args, env));
  return {
    seconds: median(results.map((r) => r.seconds)),
    statuses: [...new Set(results.map((r) => r.status))],
    peakRss: Math.max(...results.map((r) => r.peakRss ?? 0)),
  };
}

const PAGE = 4096;

/** Changes 5% of the pages at random places; returns how many distinct pages it changed. */
function changePages(pages: Buffer): number {
  const n = pages.length / PAGE;
  const changed = new Set<number>();
  for (let k = 0; k < Math.round(n * 0.05); k++) {
    const at = Math.floor(Math.random() * n);
    randomBytes(PAGE).copy(pages, at * PAGE);
    changed.add(at);
  }
  return changed.size;
}

/** The content change of pages-1.img that `ckptdb diff` reports, with its exit status. */
function pagesChange(args: string[]): { status: number | null; chunks: unknown } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--only', 'images', '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const doc = JSON.parse(r.stdout) as DiffDocument;
  return { status: r.status, chunks: doc.images!.changed.find((e) => e.key.name === 'pages-1.img')?.changes.content?.new ?? 0 };
}

async function imageFigures(checkpoints: number, mib: number, runs: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-diff-criu-'));
  try {
    const images = join(dir, 'images');
    mkdirSync(images);
    const pages = randomBytes(mib * 2 ** 20);
    await generate(images, 4, 2, 16, pages);
    const a = join(dir, 'a.sqlite');
    const b = join(dir, 'b.sqlite');
    const store = openStore(a);
    let lastChanged = 0;
    for (let i = 0; i < checkpoints; i++) {
      if (i > 0) {
        lastChanged = changePages(pages);
        writeFileSync(join(images, 'pages-1.img'), pages);
      }
      await importCriu(store, images, { label: `run ${i}` });
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    copyFileSync(a, b);
    const newChanged = changePages(pages);
    writeFileSync(join(images, 'pages-1.img'), pages);
    const storeB = openStore(b);
    await importCriu(storeB, images, { label: 'in b' });
    storeB.close();

    const last = String(checkpoints);
    const next = String(checkpoints + 1);
    const node = process.execPath;
    const same = medianRun(runs, node, [CLI, '--db', a, 'diff', String(checkpoints - 1), last]);
    const files = medianRun(runs, node, [CLI, '--db', a, 'diff', last, next, '--db-b', b]);
    const identical = medianRun(runs, node, [CLI, '--db', a, 'diff', last, last, '--db-b', b]);
    const sameCheck = pagesChange(['--db', a, 'diff', String(checkpoints - 1), last]);
    const filesCheck = pagesChange(['--db', a, 'diff', last, next, '--db-b', b]);
    const status = (r: { statuses: (number | null)[] }, want: number) => r.statuses.length === 1 && r.statuses[0] === want;
    return [
      { name: 'CRIU checkpoints per store', value: checkpoints, unit: 'checkpoints' },
      { name: 'pages-1.img per checkpoint', value: mib, unit: 'MiB' },
      { name: 'chunks reported, last two in one store', value: Number(sameCheck.chunks), unit: 'chunks',
        target: `${lastChanged}, exit 1`, ok: sameCheck.chunks === lastChanged && sameCheck.status === 1 },
      { name: 'chunks reported, two store files', value: Number(filesCheck.chunks), unit: 'chunks',
        target: `${newChanged}, exit 1`, ok: filesCheck.chunks === newChanged && filesCheck.status === 1 },
      { name: 'ckptdb diff of CRIU checkpoints, one store', value: same.seconds, unit: 's', target: '< 1, exit 1', ok: same.seconds < 1 && status(same, 1) },
      { name: 'ckptdb diff of CRIU checkpoints, two store files', value: files.seconds, unit: 's', target: '< 1, exit 1', ok: files.seconds < 1 && status(files, 1) },
      { name: 'ckptdb diff of one CRIU checkpoint in two files', value: identical.seconds, unit: 's', target: '< 1, exit 0', ok: identical.seconds < 1 && status(identical, 0) },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function diffBench(args: string[]): Promise<Figure[]> {
  const shape = { processes: Number(args[0] ?? 2000), fdsPerProcess: Number(args[1] ?? 500) };
  const runs = Number(args[2] ?? 3);
  const criu = await imageFigures(Number(args[3] ?? 20), Number(args[4] ?? 64), runs);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-diff-'));
  try {
    const both = join(dir, 'both.sqlite');
    const a = join(dir, 'a.sqlite');
    const b = join(dir, 'b.sqlite');
    const t0 = performance.now();
    write(both, 'a', shape);
    copyFileSync(both, a);
    write(both, 'b', shape);
    write(b, 'b', shape);
    const writeSeconds = (performance.now() - t0) / 1000;

    const node = process.execPath;
    const same = medianRun(runs, node, [CLI, '--db', both, 'diff', '1', '2']);
    const json = medianRun(runs, node, [CLI, '--db', both, 'diff', '1', '2', '--format', 'json']);
    const files = medianRun(runs, node, [CLI, '--db', a, 'diff', '1', '1', '--db-b', b]);
    const oneThread = medianRun(runs, node, ['--input-type=module', '-e', ONE_THREAD, both, '1', '2']);
    const sqldiff = medianRun(runs, 'sqldiff', [a, b]);

    const check = spawnSync(node, [CLI, '--db', both, 'diff', '1', '2', '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const summary = (JSON.parse(check.stdout) as DiffDocument).summary.fds!;
    const expected = expectedCounts(shape);
    const countsOk = JSON.stringify(summary) === JSON.stringify(expected);
    const ok = (r: { statuses: (number | null)[] }) => r.statuses.length === 1 && r.statuses[0] === 1;
    const ratio = sqldiff.seconds / Math.max(same.seconds, files.seconds);
    return [
      { name: 'fds per checkpoint', value: shape.processes * shape.fdsPerProcess, unit: 'fds' },
      { name: 'fds added / removed / changed', value: expected.added + expected.removed + expected.changed, unit: 'fds',
        target: `${expected.added} / ${expected.removed} / ${expected.changed} reported`, ok: countsOk },
      { name: 'writing the 3 checkpoints', value: writeSeconds, unit: 's' },
      { name: 'ckptdb diff, one store, text', value: same.seconds, unit: 's', target: '< 3, exit 1', ok: same.seconds < 3 && ok(same) },
      { name: 'ckptdb diff, one store, json', value: json.seconds, unit: 's', target: '< 3, exit 1', ok: json.seconds < 3 && ok(json) },
      { name: 'ckptdb diff, two store files', value: files.seconds, unit: 's', target: '< 3, exit 1', ok: files.seconds < 3 && ok(files) },
      { name: 'library diff on one thread, one store, text', value: oneThread.seconds, unit: 's', target: 'exit 1', ok: ok(oneThread) },
      { name: 'sqldiff, two store files', value: sqldiff.seconds, unit: 's' },
      { name: 'sqldiff / slower ckptdb diff', value: ratio, unit: 'ratio', target: '> 1', ok: ratio > 1 },
      { name: 'ckptdb diff peak RSS', value: Math.round(Math.max(same.peakRss, json.peakRss, files.peakRss) / 2 ** 20), unit: 'MiB' },
      { name: 'sqldiff peak RSS', value: Math.round(sqldiff.peakRss / 2 ** 20), unit: 'MiB' },
      ...criu,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
