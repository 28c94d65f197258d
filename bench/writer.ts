/**
 * `npm run bench -- writer [tasks] [fdsPerTask]`: 2,000 tasks x 500 fds (1,000,000 fds,
 * 1,000,000 open files, each on an inode object of its own) written through the
 * checkpoint writer, against the same rows inserted by a bare better-sqlite3 loop of
 * prepared statements in one transaction. Each side runs in a process of its own, so
 * each peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../src/index.js';
import { statement } from '../src/store/sqlFile.js';
import { peakRssBytes, type Figure } from './report.js';

interface Side {
  seconds: number;
  /** CPU time of the side's process (user + system): on a shared machine, steadier than wall time. */
  cpuSeconds: number;
  rows: number;
  peakRss: number;
  peakBuffered?: number;
}

/** The same checkpoint through the writer. */
function viaWriter(path: string, tasks: number, perTask: number): Side {
  const store = openStore(path);
  const t0 = performance.now();
  const w = store.beginCheckpoint({ source: 'proc', label: 'bench' });
  for (let t = 0; t < tasks; t++) {
    const pid = 1000 + t;
    const mm = w.addSharedObject({ kind: 'mm', key: `mm:${pid}` });
    const fdtable = w.addSharedObject({ kind: 'fdtable', key: `fdtable:${pid}` });
    w.addTask({ pid, tgid: pid, ppid: 1, comm: 'bench', cmdline: ['bench', String(t)], mm, fdtable });
    for (let fd = 0; fd < perTask; fd++) {
      const inode = w.addSharedObject({ kind: 'inode', key: `8:1:${pid * 1000 + fd}` });
      const file = w.addFile({ key: `${pid}:${fd}`, type: 'reg', path: `/data/${pid}/${fd}`, pos: fd, flags: 0o100002, mode: 0o100644, inode: pid * 1000 + fd, dev: '8:1', object: inode });
      w.addFd({ fdtable, fd, cloexec: fd % 2 === 0, file });
    }
  }
  const r = w.done();
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { seconds, cpuSeconds: 0, rows: rowCount(r.counts), peakRss: 0, peakBuffered: r.peakBufferedBytes };
}

function rowCount(c: { tasks: number; fds: number; files: number; sharedObjects: number }): number {
  return c.tasks + c.fds + c.files + c.sharedObjects;
}

/** The same rows by hand: prepared statements, one transaction, refcounts known up front. */
function bareLoop(path: string, tasks: number, perTask: number): Side {
  openStore(path).close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const t0 = performance.now();
  const insCheckpoint = db.prepare(statement('internal/writer.sql', 'insert_checkpoint'));
  const insObject = db.prepare('INSERT INTO shared_objects (checkpoint_id, kind, key, refcount) VALUES (?, ?, ?, ?)');
  const insFile = db.prepare(statement('internal/writer.sql', 'insert_file'));
  const insTask = db.prepare('INSERT INTO tasks (checkpoint_id, pid, tgid, ppid, comm, cmdline, mm_id, fdtable_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insFd = db.prepare(statement('internal/writer.sql', 'insert_fd'));
  let rows = 0;
  db.transaction(() => {
    const now = new Date().toISOString();
    const cp = Number(insCheckpoint.run('bench', 'proc', 'host', null, null, 0, now, now, null).lastInsertRowid);
    for (let t = 0; t < tasks; t++) {
      const pid = 1000 + t;
      const mm = Number(insObject.run(cp, 'mm', `mm:${pid}`, 1).lastInsertRowid);
      const fdtable = Number(insObject.run(cp, 'fdtable', `fdtable:${pid}`, 1).lastInsertRowid);
      insTask.run(cp, pid, pid, 1, 'bench', JSON.stringify(['bench', String(t)]), mm, fdtable);
      rows += 3;
      for (let fd = 0; fd < perTask; fd++) {
        const inode = Number(insObject.run(cp, 'inode', `8:1:${pid * 1000 + fd}`, 1).lastInsertRowid);
        const file = Number(insObject.run(cp, 'file', `${pid}:${fd}`, 1).lastInsertRowid);
        insFile.run(file, cp, 'reg', `/data/${pid}/${fd}`, fd, 0o100002, 0o100644, null, '8:1', pid * 1000 + fd, 0, inode, null, null);
        insFd.run(cp, fdtable, fd, fd % 2 === 0 ? 1 : 0, file);
        rows += 4;
      }
    }
  }).immediate();
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { seconds, cpuSeconds: 0, rows, peakRss: 0 };
}

async function child(side: string, path: string, tasks: number, perTask: number): Promise<void> {
  const cpu = process.cpuUsage();
  const result = side === 'writer' ? viaWriter(path, tasks, perTask) : bareLoop(path, tasks, perTask);
  const used = process.cpuUsage(cpu);
  result.cpuSeconds = (used.user + used.system) / 1e6;
  result.peakRss = await peakRssBytes();
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runSide(side: string, tasks: number, perTask: number): Side {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-'));
  try {
    const me = fileURLToPath(import.meta.url);
    const res = spawnSync(process.execPath, [me, '--child', side, join(dir, 'store.sqlite'), String(tasks), String(perTask)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (res.status !== 0) throw new Error(`${side} side failed with status ${res.status}`);
    return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Side;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function writerBench(args: string[]): Promise<Figure[]> {
  const tasks = Number(args[0] ?? 2000);
  const perTask = Number(args[1] ?? 500);
  const bare = runSide('bare', tasks, perTask);
  const writer = runSide('writer', tasks, perTask);
  const bareRate = bare.rows / bare.seconds;
  const writerRate = writer.rows / writer.seconds;
  const ratio = writerRate / bareRate;
  const perCpu = (side: Side) => Math.round(side.rows / side.cpuSeconds);
  return [
    { name: 'fds', value: tasks * perTask, unit: 'fds' },
    { name: 'rows per checkpoint', value: writer.rows, unit: 'rows' },
    { name: 'bare loop', value: Math.round(bareRate), unit: 'rows/s' },
    { name: 'writer', value: Math.round(writerRate), unit: 'rows/s' },
    { name: 'writer / bare loop', value: ratio, unit: 'ratio', target: '>= 0.5', ok: ratio >= 0.5 },
    { name: 'bare loop per CPU second', value: perCpu(bare), unit: 'rows/cpu-s' },
    { name: 'writer per CPU second', value: perCpu(writer), unit: 'rows/cpu-s' },
    { name: 'writer peak RSS', value: Math.round(writer.peakRss / 2 ** 20), unit: 'MiB', target: '< 150', ok: writer.peakRss < 150 * 2 ** 20 },
    { name: 'writer buffered peak', value: Math.round((writer.peakBuffered ?? 0) / 2 ** 10), unit: 'KiB' },
    { name: 'bare loop peak RSS', value: Math.round(bare.peakRss / 2 ** 20), unit: 'MiB' },
  ];
}

const [, , flag, side, path, tasks, perTask] = process.argv;
if (flag === '--child') await child(side!, path!, Number(tasks), Number(perTask));
