/**
 * `npm run bench -- mount [fds] [runs]`: a store holding one checkpoint of 50,000 fds
 * (the busy-machine shape of bench/_bigCheckpoint.ts: 100 processes, forked workers
 * sharing open files, pipes, sockets), served by `ckptdb mount`, against the same
 * checkpoint exported with `export --format tree` to a folder on disk, in one run.
 *
 * Each tool runs over both: `ls -R`, `find -type f | xargs cat` and `grep -r` (a
 * pattern nowhere, so every file is read). The tree on disk has just been written and
 * is read once before timing, so it is served from the page cache, as a fresh export
 * is. Over the mount, every run gets a fresh mount, so that everything comes from
 * SQLite and nothing from the kernel's caches; the same tool run again on that mount
 * (`warm`) is served by those caches. Times are medians of `runs` (default 1: the tree
 * on disk has 906,184 entries, and a run of the three tools over both takes minutes);
 * the server's peak RSS is taken from the kernel (VmHWM) after the runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportTree, openStore } from '../src/index.js';
import { writeBigCheckpoint } from './_bigCheckpoint.js';
import { median, type Figure } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

const TOOLS: [name: string, script: string][] = [
  ['ls -R', 'ls -R "$1" > /dev/null'],
  ['find -type f | xargs cat', 'find "$1" -type f -print0 | xargs -0 cat > /dev/null'],
  ['grep -r', 'grep -r ckptdb-bench-nowhere "$1"; test $? -eq 1'],
];

function timed(script: string, dir: string): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', script, 'sh', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} on ${dir} failed (status ${r.status})`);
  return (performance.now() - t0) / 1000;
}

interface Server {
  child: ChildProcess;
  pid: number;
}

async function mount(store: string, mnt: string): Promise<Server> {
  const child = spawn(process.execPath, [CLI, '--db', store, 'mount', mnt, '--foreground', '--ready-fd', '3'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  const said = await new Promise<string>((res) => {
    let text = '';
    child.stdio[3]!.on('data', (d: Buffer) => (text += d.toString()));
    child.stdio[3]!.on('end', () => res(text));
  });
  if (!said.startsWith('ready')) throw new Error(`mount failed: ${said}`);
  return { child, pid: child.pid! };
}

async function unmount(server: Server): Promise<number> {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  const exited = new Promise((res) => server.child.once('exit', res));
  server.child.kill('SIGTERM');
  await exited;
  return peak;
}

export default async function run(args: string[]): Promise<Figure[]> {
  const fds = Number(args[0] ?? 50_000);
  const runs = Number(args[1] ?? 1);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-mount-'));
  const servers: Server[] = [];
  try {
    const path = join(dir, 'store.sqlite');
    const store = openStore(path);
    const big = writeBigCheckpoint(store, { fds, services: 10, workersPerService: 9 });
    const exported = exportTree(store, big.checkpointId, join(dir, 'tree'));
    store.close();
    const files = Number(spawnSync('sh', ['-c', `find "${exported.path}" | wc -l`], { encoding: 'utf8' }).stdout.trim());
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const inMount = join(mnt, `checkpoint-${big.checkpointId}`);
    process.stderr.write(`checkpoint of ${big.fds} fds, ${big.tasks} tasks: ${files} entries in the tree\n`);

    const figures: Figure[] = [{ name: 'tree entries', value: files, unit: 'files+dirs' }];
    let peak = 0;
    for (const [name, script] of TOOLS) {
      timed(script, exported.path);
      const disk: number[] = [];
      const cold: number[] = [];
      const warm: number[] = [];
      for (let i = 0; i < runs; i++) {
        disk.push(timed(script, exported.path));
        const server = await mount(path, mnt);
        servers.push(server);
        cold.push(timed(script, inMount));
        warm.push(timed(script, inMount));
        peak = Math.max(peak, await unmount(server));
        servers.pop();
      }
      const ratio = median(cold) / median(disk);
      figures.push(
        { name: `${name}: tree on disk`, value: median(disk), unit: 's' },
        { name: `${name}: mount`, value: median(cold), unit: 's' },
        { name: `${name}: mount / disk`, value: ratio, unit: '×', target: '≤ 3', ok: ratio <= 3 },
        { name: `${name}: mount, warm`, value: median(warm), unit: 's' },
      );
      process.stderr.write(`${name}: disk ${median(disk).toFixed(2)} s, mount ${median(cold).toFixed(2)} s (${ratio.toFixed(2)} ×), warm ${median(warm).toFixed(2)} s\n`);
    }
    figures.push({ name: 'server peak RSS', value: Math.round(peak / 2 ** 20), unit: 'MiB', target: '< 150', ok: peak < 150 * 2 ** 20 });
    return figures;
  } finally {
    for (const s of servers) s.child.kill('SIGKILL');
    spawnSync('umount', ['-l', join(dir, 'mnt')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}
