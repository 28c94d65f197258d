/**
 * `npm run bench -- image [rows...]`: checkpoints of 100,000, 1,000,000 and 5,000,000
 * rows (tasks of 500 fds, each fd on an open file of its own on an inode of its own,
 * the shape of the writer benchmark: four rows per fd) are built through the writer,
 * exported as an image (document form) and imported back into a fresh store. "Objects"
 * are the image's records: the checkpoint, every shared object (inode, address space,
 * fd table), every open file, task and fd; for this shape 3 per fd.
 *
 * Baselines measured in the same run: for export, a bare scan of the same rows that
 * JSON.stringifies each to a file in table order (no ordering, no ids); for import,
 * the writer itself writing the same checkpoint from code (no reading, no checking).
 * Each step runs in a process of its own, so each peak RSS is its own. Rates per CPU
 * second (user + system of the step's process) are printed beside wall-clock rates: on
 * a machine shared with other builds they are the steadier measure of the code.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImage, importImage, openStore } from '../src/index.js';
import { peakRssBytes, type Figure } from './report.js';

interface Step {
  seconds: number;
  /** CPU time of the step's process (user + system): on a shared machine, steadier than wall time. */
  cpuSeconds: number;
  records: number;
  peakRss: number;
}

/** The checkpoint, written as a source would: the import baseline. */
function build(path: string, tasks: number, perTask: number): Step {
  const store = openStore(path);
  const t0 = performance.now();
  const w = store.beginCheckpoint({ source: 'proc', label: 'bench' });
  let records = 1;
  for (let t = 0; t < tasks; t++) {
    const pid = 1000 + t;
    const mm = w.addSharedObject({ kind: 'mm', key: `mm:${pid}` });
    const fdtable = w.addSharedObject({ kind: 'fdtable', key: `fdtable:${pid}` });
    w.addTask({ pid, tgid: pid, ppid: t === 0 ? 1 : 1000, comm: 'bench', cmdline: ['bench', String(t)], mm, fdtable, startTime: 2n ** 60n + BigInt(t) });
    records += 3;
    for (let fd = 0; fd < perTask; fd++) {
      const inode = w.addSharedObject({ kind: 'inode', key: `8:1:${pid * 1000 + fd}` });
      const file = w.addFile({ key: `${pid}:${fd}`, type: 'reg', path: `/data/${pid}/${fd}`, pos: fd, flags: 0o100002, mode: 0o100644, inode: pid * 1000 + fd, dev: '8:1', object: inode });
      w.addFd({ fdtable, fd, cloexec: fd % 2 === 0, file });
      records += 3;
    }
  }
  w.done();
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { seconds, cpuSeconds: 0, records, peakRss: 0 };
}

async function exportStep(path: string, out: string): Promise<Step> {
  const store = openStore(path, { create: false });
  const t0 = performance.now();
  const r = await exportImage(store, 1, 'document', { path: out });
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { seconds, cpuSeconds: 0, records: r.records, peakRss: 0 };
}

/** The same rows, scanned in table order and stringified to a file: what reading alone costs. */
function bareScan(path: string, out: string): Step {
  const store = openStore(path, { create: false });
  const t0 = performance.now();
  const fd = openSync(out, 'w', 0o600);
  let records = 0;
  let buf = '';
  for (const table of ['shared_objects', 'files', 'tasks', 'fds']) {
    for (const row of store.db.prepare(`SELECT * FROM ${table} WHERE checkpoint_id = 1`).iterate()) {
      buf += JSON.stringify(row) + '\n';
      records++;
      if (buf.length > 1 << 20) {
        writeSync(fd, buf);
        buf = '';
      }
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { seconds, cpuSeconds: 0, records, peakRss: 0 };
}

async function importStep(path: string, image: string): Promise<Step> {
  const store = openStore(path);
  const t0 = performance.now();
  const r = await importImage(store, image);
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { seconds, cpuSeconds: 0, records: r.records, peakRss: 0 };
}

async function child(step: string, a: string, b: string, tasks: number, perTask: number): Promise<void> {
  const cpu = process.cpuUsage();
  let result: Step;
  if (step === 'build') result = build(a, tasks, perTask);
  else if (step === 'export') result = await exportStep(a, b);
  else if (step === 'scan') result = bareScan(a, b);
  else result = await importStep(a, b);
  const used = process.cpuUsage(cpu);
  result.cpuSeconds = (used.user + used.system) / 1e6;
  result.peakRss = await peakRssBytes();
  process.stdout.write(JSON.stringify(result) + '\n');
}

function run(step: string, a: string, b: string, tasks: number, perTask: number): Step {
  const me = fileURLToPath(import.meta.url);
  const res = spawnSync(process.execPath, [me, '--child', step, a, b, String(tasks), String(perTask)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) throw new Error(`${step} step failed with status ${res.status}`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Step;
}

const MiB = 2 ** 20;

const DEFAULT_ROWS = [100_000, 1_000_000, 5_000_000];
const FDS_PER_TASK = 500;

export default async function imageBench(args: string[]): Promise<Figure[]> {
  const sizes = args.length ? args.map(Number) : DEFAULT_ROWS;
  const figures: Figure[] = [];
  for (const rows of sizes) {
    const perTask = FDS_PER_TASK;
    const tasks = Math.max(1, Math.round(rows / (3 + 4 * perTask)));
    const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-'));
    try {
      const source = join(dir, 'source.sqlite');
      const image = join(dir, 'image.json');
      const built = run('build', source, '', tasks, perTask);
      const scan = run('scan', source, join(dir, 'scan.ndjson'), tasks, perTask);
      rmSync(join(dir, 'scan.ndjson'));
      const exported = run('export', source, image, tasks, perTask);
      const imported = run('import', join(dir, 'target.sqlite'), image, tasks, perTask);
      const exportRate = exported.records / exported.seconds;
      const importRate = imported.records / imported.seconds;
      const perCpu = (st: Step) => Math.round(st.records / st.cpuSeconds);
      const label = `${(rows / 1e6).toFixed(rows < 1e6 ? 1 : 0)}M rows`;
      figures.push(
        { name: `${label}: fds`, value: tasks * perTask, unit: 'fds' },
        { name: `${label}: objects (image records)`, value: exported.records, unit: 'records' },
        { name: `${label}: image size`, value: Math.round(statSync(image).size / MiB), unit: 'MiB' },
        { name: `${label}: export`, value: Math.round(exportRate), unit: 'objects/s', target: '>= 400,000', ok: exportRate >= 400_000 },
        { name: `${label}: export per CPU second`, value: perCpu(exported), unit: 'objects/cpu-s' },
        { name: `${label}: export peak RSS`, value: Math.round(exported.peakRss / MiB), unit: 'MiB', target: '< 200', ok: exported.peakRss < 200 * MiB },
        { name: `${label}: baseline: bare scan to file`, value: Math.round(scan.records / scan.seconds), unit: 'rows/s' },
        { name: `${label}: import`, value: Math.round(importRate), unit: 'objects/s', target: '>= 300,000', ok: importRate >= 300_000 },
        { name: `${label}: import per CPU second`, value: perCpu(imported), unit: 'objects/cpu-s' },
        { name: `${label}: import peak RSS`, value: Math.round(imported.peakRss / MiB), unit: 'MiB', target: '< 200', ok: imported.peakRss < 200 * MiB },
        { name: `${label}: baseline: writer from code`, value: Math.round(built.records / built.seconds), unit: 'objects/s' },
        { name: `${label}: baseline: writer per CPU second`, value: perCpu(built), unit: 'objects/cpu-s' },
        { name: `${label}: baseline: writer peak RSS`, value: Math.round(built.peakRss / MiB), unit: 'MiB' },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return figures;
}

const [, , flag, step, a, b, tasks, perTask] = process.argv;
if (flag === '--child') await child(step!, a!, b!, Number(tasks), Number(perTask));
