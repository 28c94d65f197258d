/**
 * `npm run bench -- checkpoint [MiB...]` (default 256 1024), with CRIU 4.x from
 * CKPTDB_CRIU (or PATH):
 *
 * For a process holding each size of memory, half random bytes, half one random MiB
 * repeated:
 * 1. `criu dump --leave-running` to a plain directory, against `checkpointProcesses`
 *    (what `ckptdb checkpoint` runs) of the same process, twice: the second checkpoint
 *    finds every page in the store. Ingest is the dump's bytes over the time ckptdb took
 *    to store them; growth is what the store file grew by, against the unique bytes.
 * 2. The process ended, `criu restore -d` from the plain directory against
 *    `restoreCheckpoint` (images written from the store, then criu restore).
 * All in the same run, on the same file system.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointProcesses, findCriu, openStore, restoreCheckpoint, type Store } from '../src/index.js';
import { peakRssBytes, type Figure } from './report.js';

const MIB = 2 ** 20;
const UNIQUE_BYTES = `SELECT sum(c.size) FROM criu_chunks c WHERE c.id IN (
  SELECT ic.chunk_id FROM criu_images i JOIN criu_image_chunks ic ON ic.image_id = i.id WHERE i.checkpoint_id = ?)`;

const HOLDER = `
import os, sys, time
half = int(sys.argv[1]) * 1024 * 1024 // 2
unique = bytearray(os.urandom(half))
block = os.urandom(1 << 20)
repeated = bytearray(block * (half >> 20))
print("ready", flush=True)
time.sleep(3600)
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<void> {
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid) || readdirSync('/proc').includes(String(pid))) await new Promise((r) => setTimeout(r, 10));
}

/** The holder, with no pipe to us (criu would dump it, restore would want it back): ready when it makes its file. */
async function holderProcess(dir: string, mib: number): Promise<number> {
  const script = join(dir, 'holder.py');
  const ready = join(dir, 'ready');
  rmSync(ready, { force: true });
  writeFileSync(script, HOLDER.replace('print("ready", flush=True)', `open(${JSON.stringify(ready)}, "w").close()`));
  const child = spawn('python3', [script, String(mib)], { detached: true, stdio: 'ignore' });
  child.unref();
  while (!readdirSync(dir).includes('ready')) await new Promise((r) => setTimeout(r, 20));
  return child.pid!;
}

function storeBytes(store: Store): number {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return ['', '-wal'].reduce((n, s) => {
    try {
      return n + statSync(store.path + s).size;
    } catch {
      return n;
    }
  }, 0);
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export default async function run(args: string[]): Promise<Figure[]> {
  const sizes = args.length ? args.map(Number) : [256, 1024];
  const criu = findCriu();
  const root = mkdtempSync(join(tmpdir(), 'ckptdb-bench-checkpoint-'));
  const figures: Figure[] = [];
  try {
    for (const mib of sizes) {
      const dir = join(root, `${mib}`);
      mkdirSync(dir);
      const pid = await holderProcess(dir, mib);
      try {
        const plain = join(dir, 'plain');
        mkdirSync(plain);
        const dumpSeconds = timed(() => execFileSync(criu.path, ['dump', '-t', String(pid), '-D', plain, '-o', 'dump.log', '--leave-running']));
        const dumped = dirBytes(plain);

        const store = openStore(join(dir, 'store.sqlite'));
        try {
          const sizes: number[] = [storeBytes(store)];
          const runs = [];
          for (let i = 0; i < 2; i++) {
            const t = performance.now();
            const cpu = process.cpuUsage();
            const r = await checkpointProcesses(store, { pids: [pid] });
            const used = process.cpuUsage(cpu);
            runs.push({ ...r, seconds: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6 });
            sizes.push(storeBytes(store));
          }
          const [first, second] = runs;
          // the unique bytes of the dump: its distinct chunks, as the first checkpoint found them
          const unique = store.db.prepare(UNIQUE_BYTES).pluck().get(first!.checkpointId) as number;
          figures.push(
            { name: `${mib} MiB: criu dump to a directory`, value: dumpSeconds, unit: 's' },
            { name: `${mib} MiB: ckptdb checkpoint (first)`, value: first!.seconds, unit: 's' },
            { name: `${mib} MiB: checkpoint / criu dump (first)`, value: first!.seconds / dumpSeconds, unit: '×', target: '≤ 3', ok: first!.seconds / dumpSeconds <= 3 },
            { name: `${mib} MiB: checkpoint / criu dump (second, all pages known)`, value: second!.seconds / dumpSeconds, unit: '×', target: '≤ 3', ok: second!.seconds / dumpSeconds <= 3 },
            { name: `${mib} MiB: ingest (first)`, value: first!.bytes / MIB / first!.importSeconds, unit: 'MiB/s', target: '≥ 1024', ok: first!.bytes / MIB / first!.importSeconds >= 1024 },
            { name: `${mib} MiB: ingest (second)`, value: second!.bytes / MIB / second!.importSeconds, unit: 'MiB/s', target: '≥ 1024', ok: second!.bytes / MIB / second!.importSeconds >= 1024 },
            { name: `${mib} MiB: CPU of ckptdb, all threads, per GiB (first)`, value: first!.cpu / (first!.bytes / 2 ** 30), unit: 's' },
            { name: `${mib} MiB: CPU of ckptdb, all threads, per GiB (second)`, value: second!.cpu / (second!.bytes / 2 ** 30), unit: 's' },
            { name: `${mib} MiB: dump size`, value: dumped / MIB, unit: 'MiB' },
            { name: `${mib} MiB: unique bytes of the dump`, value: unique / MIB, unit: 'MiB' },
            { name: `${mib} MiB: store growth (first) / unique bytes`, value: (sizes[1]! - sizes[0]!) / unique, unit: '×', target: '≤ 1', ok: sizes[1]! - sizes[0]! <= unique },
            { name: `${mib} MiB: store growth (second)`, value: (sizes[2]! - sizes[1]!) / MIB, unit: 'MiB' },
          );

          await gone(pid);
          const plainRestore = timed(() => execFileSync(criu.path, ['restore', '-D', plain, '-d', '-o', 'restore.log']));
          await gone(pid);
          const t = performance.now();
          const r = await restoreCheckpoint(store, second!.checkpointId);
          const ckptdbRestore = (performance.now() - t) / 1000;
          await gone(r.pid);
          figures.push(
            { name: `${mib} MiB: criu restore from the directory`, value: plainRestore, unit: 's' },
            { name: `${mib} MiB: ckptdb restore`, value: ckptdbRestore, unit: 's' },
            { name: `${mib} MiB: restore / criu restore`, value: ckptdbRestore / plainRestore, unit: '×', target: '≤ 1.5', ok: ckptdbRestore / plainRestore <= 1.5 },
          );
        } finally {
          store.close();
        }
      } finally {
        await gone(pid);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    figures.push({ name: 'peak RSS of ckptdb', value: (await peakRssBytes()) / MIB, unit: 'MiB' });
    return figures;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
