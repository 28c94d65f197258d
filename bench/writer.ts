/**
 * `npm run bench -- writer [rows...]`: checkpoints of 100,000, 1,000,000 and 5,000,000
 * rows (tasks of 500 fds; per fd an open file on an inode of its own: four rows, the
 * inode, the file's shared object, the file and the fd) written through the
 * checkpoint writer, against the same rows inserted by bare better-sqlite3 loops:
 *
 *   bare loop        the store's schema, one prepared single-row INSERT per row with
 *                    the id given, in one transaction, foreign keys off as the writer
 *                    has them: what SQLite itself costs for these rows
 *   bare, FK on      the same with foreign key checks on: what enforcing them costs
 *   unindexed        the same columns in tables without any key or index: the floor
 *
 * Each side writes into a store that holds one checkpoint of the same size already (the
 * second checkpoint is the one timed), in a process of its own, so each peak RSS is its
 * own. Rates per CPU second (user + system of that process) are printed beside
 * wall-clock rates: on a machine shared with other work they are the steadier measure.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../src/index.js';
import { statement } from '../src/store/sqlFile.js';
import { peakRssBytes, type Figure } from './report.js';

const FDS_PER_TASK = 500;
const DEFAULT_ROWS = [100_000, 1_000_000, 5_000_000];
const SIDES = ['writer', 'bare', 'bare-fk', 'unindexed'] as const;
type SideName = (typeof SIDES)[number];

interface Side {
  seconds: number;
  /** CPU time of the side's process (user + system). */
  cpuSeconds: number;
  rows: number;
  peakRss: number;
  peakBuffered?: number;
}

/** Tasks of 500 fds for about `rows` rows: three per task, four per fd. */
function shape(rows: number): { tasks: number; perTask: number } {
  const tasks = Math.max(1, Math.round(rows / (3 + 4 * FDS_PER_TASK)));
  return { tasks, perTask: FDS_PER_TASK };
}

/** The checkpoint through the writer; returns its rows. */
function viaWriter(path: string, tasks: number, perTask: number, timed: boolean): Side {
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
  const c = r.counts;
  return { seconds: timed ? seconds : 0, cpuSeconds: 0, rows: c.tasks + c.fds + c.files + c.sharedObjects, peakRss: 0, peakBuffered: r.peakBufferedBytes };
}

const UNINDEXED = `
CREATE TABLE shared_objects (id INTEGER, checkpoint_id INTEGER, kind TEXT, key TEXT, refcount INTEGER, inferred INTEGER, attrs TEXT);
CREATE TABLE files (id INTEGER, checkpoint_id INTEGER, type TEXT, path TEXT, pos INTEGER, flags INTEGER, mode INTEGER, mnt_id INTEGER,
  dev TEXT, inode INTEGER, deleted INTEGER, object_id INTEGER, unreadable TEXT, attrs TEXT);
CREATE TABLE tasks (id INTEGER, checkpoint_id INTEGER, pid INTEGER, tgid INTEGER, ppid INTEGER, pgid INTEGER, sid INTEGER, state TEXT, comm TEXT,
  uid INTEGER, euid INTEGER, suid INTEGER, fsuid INTEGER, gid INTEGER, egid INTEGER, sgid INTEGER, fsgid INTEGER,
  cmdline TEXT, exe TEXT, cwd TEXT, root TEXT, start_time INTEGER, sig_pending TEXT, sig_blocked TEXT, sig_ignored TEXT, sig_caught TEXT, env TEXT,
  mm_id INTEGER, fdtable_id INTEGER, fs_id INTEGER, sighand_id INTEGER, unreadable TEXT, attrs TEXT);
CREATE TABLE fds (id INTEGER, checkpoint_id INTEGER, fdtable_id INTEGER, fd INTEGER, cloexec INTEGER, file_id INTEGER);
CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, label TEXT, source TEXT, host TEXT, kernel TEXT, root_pid INTEGER, frozen INTEGER,
  started_at TEXT, finished_at TEXT, meta TEXT, uuid TEXT);`;

/**
 * The same rows by hand: prepared single-row inserts with the ids given, refcounts
 * known up front, one transaction, into the store's tables or unindexed ones.
 */
function bareLoop(path: string, tasks: number, perTask: number, side: SideName, timed: boolean): Side {
  let db: Database.Database;
  if (side === 'unindexed') {
    db = new Database(path);
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'fds'").get()) db.exec(UNINDEXED);
  } else {
    openStore(path).close();
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`foreign_keys = ${side === 'bare-fk' ? 'ON' : 'OFF'}`);
  }
  const max = (table: string) => Number(db.prepare(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get());
  let objectId = max('shared_objects');
  let taskId = max('tasks');
  let fdId = max('fds');
  const t0 = performance.now();
  const insCheckpoint = db.prepare(statement('internal/writer.sql', 'insert_checkpoint'));
  const insObject = db.prepare(statement('internal/writer.sql', 'insert_object'));
  const insFile = db.prepare(statement('internal/writer.sql', 'insert_file'));
  const insTask = db.prepare('INSERT INTO tasks (id, checkpoint_id, pid, tgid, ppid, comm, cmdline, mm_id, fdtable_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insFd = db.prepare(statement('internal/writer.sql', 'insert_fd'));
  let rows = 0;
  db.transaction(() => {
    const now = new Date().toISOString();
    const cp = Number(insCheckpoint.run('bench', 'proc', 'host', null, null, 0, now, now, null, randomUUID()).lastInsertRowid);
    for (let t = 0; t < tasks; t++) {
      const pid = 1000 + t;
      const mm = ++objectId;
      insObject.run(mm, cp, 'mm', `mm:${pid}`, 1, 0, null);
      const fdtable = ++objectId;
      insObject.run(fdtable, cp, 'fdtable', `fdtable:${pid}`, 1, 0, null);
      insTask.run(++taskId, cp, pid, pid, 1, 'bench', JSON.stringify(['bench', String(t)]), mm, fdtable);
      rows += 3;
      for (let fd = 0; fd < perTask; fd++) {
        const inode = ++objectId;
        insObject.run(inode, cp, 'inode', `8:1:${pid * 1000 + fd}`, 1, 0, null);
        const file = ++objectId;
        insObject.run(file, cp, 'file', `${pid}:${fd}`, 1, 0, null);
        insFile.run(file, cp, 'reg', `/data/${pid}/${fd}`, fd, 0o100002, 0o100644, null, '8:1', pid * 1000 + fd, 0, inode, null, null);
        insFd.run(++fdId, cp, fdtable, fd, fd % 2 === 0 ? 1 : 0, file);
        rows += 4;
      }
    }
  }).immediate();
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { seconds: timed ? seconds : 0, cpuSeconds: 0, rows, peakRss: 0 };
}

async function child(side: SideName, path: string, tasks: number, perTask: number): Promise<void> {
  // the first checkpoint makes the store hold one of the same size; the second is timed
  if (side === 'writer') viaWriter(path, tasks, perTask, false);
  else bareLoop(path, tasks, perTask, side, false);
  const cpu = process.cpuUsage();
  const result = side === 'writer' ? viaWriter(path, tasks, perTask, true) : bareLoop(path, tasks, perTask, side, true);
  const used = process.cpuUsage(cpu);
  result.cpuSeconds = (used.user + used.system) / 1e6;
  result.peakRss = await peakRssBytes();
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runSide(side: SideName, tasks: number, perTask: number): Side {
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

const MiB = 2 ** 20;

export default async function writerBench(args: string[]): Promise<Figure[]> {
  const sizes = args.length ? args.map(Number) : DEFAULT_ROWS;
  const figures: Figure[] = [];
  for (const size of sizes) {
    const { tasks, perTask } = shape(size);
    const sides = Object.fromEntries(SIDES.map((s) => [s, runSide(s, tasks, perTask)])) as Record<SideName, Side>;
    const rate = (s: Side) => s.rows / s.seconds;
    const perCpu = (s: Side) => s.rows / s.cpuSeconds;
    const w = sides.writer;
    const label = `${(w.rows / 1e6).toFixed(w.rows < 1e6 ? 1 : 0)}M rows`;
    const isMain = size === 1_000_000 || sizes.length === 1;
    figures.push(
      { name: `${label}: writer`, value: Math.round(rate(w)), unit: 'rows/s', ...(isMain ? { target: '>= 600,000', ok: rate(w) >= 600_000 } : {}) },
      { name: `${label}: writer per CPU second`, value: Math.round(perCpu(w)), unit: 'rows/cpu-s' },
      { name: `${label}: bare loop, same schema`, value: Math.round(rate(sides.bare)), unit: 'rows/s' },
      { name: `${label}: bare loop, foreign keys on`, value: Math.round(rate(sides['bare-fk'])), unit: 'rows/s' },
      { name: `${label}: bare loop, unindexed tables`, value: Math.round(rate(sides.unindexed)), unit: 'rows/s' },
      { name: `${label}: writer / bare loop (CPU)`, value: perCpu(w) / perCpu(sides.bare), unit: 'ratio' },
      { name: `${label}: writer / unindexed (CPU)`, value: perCpu(w) / perCpu(sides.unindexed), unit: 'ratio' },
      { name: `${label}: foreign keys on / off (CPU)`, value: perCpu(sides['bare-fk']) / perCpu(sides.bare), unit: 'ratio' },
      { name: `${label}: writer time`, value: w.seconds, unit: 's' },
      { name: `${label}: writer peak RSS`, value: Math.round(w.peakRss / MiB), unit: 'MiB', target: '< 150', ok: w.peakRss < 150 * MiB },
      { name: `${label}: writer buffered peak`, value: Math.round((w.peakBuffered ?? 0) / 2 ** 10), unit: 'KiB' },
    );
  }
  return figures;
}

const [, , flag, side, path, tasks, perTask] = process.argv;
if (flag === '--child') await child(side as SideName, path!, Number(tasks), Number(perTask));
