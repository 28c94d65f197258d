/**
 * `npm run bench -- capture scale [rounds]`: the mixed shape (below) at 10,000, 50,000
 * and 200,000 fds (100, 500 and 2,000 processes of 100 fds), one round each by
 * default: how the capture's time and peak memory grow with its size, beside lsof's.
 *
 * `npm run bench -- capture [processes] [fds] [rounds] [shapes]`: starts 500 processes
 * holding 100 fds each (bench/fd-holder.c, compiled here with gcc: pipes, socketpairs,
 * a TCP listener, regular files shared over fork and opened independently, /dev/null,
 * dups, eventfd, epoll, timerfd, signalfd), then times `ckptdb capture --all` against
 * `lsof -n -P` on the same machine state, alternating which goes first, for several
 * rounds. Both are timed by the same wrapper (bench/measure.py), which also reads the
 * CPU time and the peak resident set of the command. Target: capture / lsof <= 1.0.
 *
 * Two shapes of tree, both by default (shapes: mixed,inherited):
 *   mixed      every process opens most of its fds itself (35,000 open files for
 *              50,000 fds): the most rows to write, the most kcmp calls
 *   inherited  every process inherits all its fds from one parent: 50,000 fds on a
 *              hundred open files
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/index.js';
import { packageRoot } from '../src/paths.js';
import { median, type Figure } from './report.js';

interface Measured {
  seconds: number;
  cpuSeconds: number;
  peakRss: number;
  status: number;
  stderr: string;
}

function measure(command: string[]): Measured {
  const r = spawnSync('python3', [join(packageRoot, 'bench', 'measure.py'), ...command], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measure.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measured;
}

/** Starts the holders in a process group of their own; resolves once every one holds its fds. */
function startHolders(binary: string, processes: number, fds: number, dir: string, shape: string): Promise<number> {
  const child = spawn(binary, [String(processes), String(fds), dir, shape], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`fd-holder exited with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) resolve(child.pid!);
    });
  });
}

interface ShapeResult {
  lsof: number;
  capture: number;
  lsofCpu: number;
  captureCpu: number;
  peakRss: number;
  objects: number;
  counts: Record<string, number>;
}

async function runShape(binary: string, dir: string, shape: string, processes: number, fds: number, rounds: number): Promise<ShapeResult> {
  const files = join(dir, `files-${shape}-${processes}`);
  mkdirSync(files);
  const group = await startHolders(binary, processes, fds, files, shape);
  try {
    const cli = join(packageRoot, 'dist', 'cli', 'main.js');
    const lsof: Measured[] = [];
    const capture: Measured[] = [];
    let objects = 0;
    let counts: Record<string, number> = {};
    for (let round = 0; round < rounds; round++) {
      const store = join(dir, `store-${shape}-${processes}-${round}.sqlite`);
      openStore(store).close();
      const runLsof = () => lsof.push(measure(['lsof', '-n', '-P']));
      const runCapture = () => {
        const m = measure([process.execPath, cli, '--db', store, 'capture', '--all']);
        if (m.status !== 0) throw new Error(`capture failed: ${m.stderr}`);
        capture.push(m);
      };
      if (round % 2 === 0) {
        runLsof();
        runCapture();
      } else {
        runCapture();
        runLsof();
      }
      const s = openStore(store, { create: false });
      const d = s.describeCheckpoint(1);
      s.close();
      counts = d.counts;
      objects = ['tasks', 'fds', 'shared_objects', 'maps', 'sockets'].reduce((n, k) => n + (d.counts[k] ?? 0), 0);
      rmSync(store, { force: true });
    }
    return {
      lsof: median(lsof.map((m) => m.seconds)),
      capture: median(capture.map((m) => m.seconds)),
      lsofCpu: median(lsof.map((m) => m.cpuSeconds)),
      captureCpu: median(capture.map((m) => m.cpuSeconds)),
      peakRss: Math.max(...capture.map((m) => m.peakRss)),
      objects,
      counts,
    };
  } finally {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const SCALE = [100, 500, 2000];

export default async function captureBench(args: string[]): Promise<Figure[]> {
  const scale = args[0] === 'scale';
  const processes = Number(args[0] ?? 500);
  const fds = scale ? 100 : Number(args[1] ?? 100);
  const rounds = Number((scale ? args[1] : args[2]) ?? (scale ? 1 : 5));
  const shapes = scale ? ['mixed'] : (args[3] ?? 'mixed,inherited').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-capture-'));
  try {
    const binary = join(dir, 'fd-holder');
    execFileSync('gcc', ['-O2', '-o', binary, join(packageRoot, 'bench', 'fd-holder.c')]);
    const figures: Figure[] = [{ name: 'rounds per shape', value: rounds, unit: 'rounds' }];
    const runs = scale ? SCALE.map((p) => ({ shape: 'mixed', processes: p })) : shapes.map((shape) => ({ shape, processes }));
    for (const { shape, processes: n } of runs) {
      const r = await runShape(binary, dir, shape, n, fds, rounds);
      const ratio = r.capture / r.lsof;
      const name = scale ? `${Math.round((r.counts.fds ?? 0) / 1000)}k fds` : shape;
      figures.push(
        { name: `${name}: processes captured`, value: r.counts.processes ?? 0, unit: 'processes' },
        { name: `${name}: fds captured`, value: r.counts.fds ?? 0, unit: 'fds' },
        { name: `${name}: open files captured`, value: r.counts.files ?? 0, unit: 'files' },
        { name: `${name}: lsof -n -P median`, value: r.lsof, unit: 's' },
        { name: `${name}: capture --all median`, value: r.capture, unit: 's' },
        { name: `${name}: capture / lsof`, value: ratio, unit: 'ratio', target: '<= 1.0', ok: ratio <= 1.0 },
        { name: `${name}: lsof CPU time median`, value: r.lsofCpu, unit: 's' },
        { name: `${name}: capture CPU time median`, value: r.captureCpu, unit: 's (all its threads)' },
        {
          name: `${name}: capture peak RSS`, value: Math.round(r.peakRss / 2 ** 20), unit: 'MiB',
          ...(scale ? { target: '< 150', ok: r.peakRss < 150 * 2 ** 20 } : {}),
        },
        { name: `${name}: objects stored per second`, value: Math.round(r.objects / r.capture), unit: 'objects/s' },
      );
    }
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
