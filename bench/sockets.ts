/**
 * `npm run bench -- sockets [pairs] [rounds]`: one process holds 5,000 unix socketpairs
 * (10,000 sockets, in this machine's network namespace among whatever else runs here);
 * the capture's two ways to describe them are timed against each other on the same
 * sockets, alternating which goes first: sock_diag (one netlink dump, peers included)
 * and /proc/net/unix (what the capture reads where sock_diag cannot be asked: no
 * peers). Then `ckptdb capture` of the holder, for its sockets phase as the capture
 * meta records it. Target: sock_diag takes no longer than /proc/net/unix.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUnixTable, type SocketDetails } from '../src/capture/proc/net.js';
import { dumpUnixSockets } from '../src/capture/unixDiag.js';
import { openStore } from '../src/index.js';
import { packageRoot } from '../src/paths.js';
import { median, type Figure } from './report.js';

const HOLDER = `
import os, resource, socket, sys, time
pairs = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * pairs + 64), hard))
held = [socket.socketpair() for _ in range(pairs)]
print(' '.join(str(os.fstat(s.fileno()).st_ino) for pair in held for s in pair), flush=True)
time.sleep(3600)
`;

/** Starts the holder; resolves with its pid and the inodes of its sockets. */
function startHolder(pairs: number): Promise<{ pid: number; inodes: string[] }> {
  const child = spawn('python3', ['-c', HOLDER, String(pairs)], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the socket holder exited with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.endsWith('\n')) resolve({ pid: child.pid!, inodes: out.trim().split(' ') });
    });
  });
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export default async function socketsBench(args: string[]): Promise<Figure[]> {
  const pairs = Number(args[0] ?? 5000);
  const rounds = Number(args[1] ?? 11);
  const holder = await startHolder(pairs);
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-bench-sockets-'));
  try {
    const wanted = new Set(holder.inodes);
    const diag: number[] = [];
    const proc: number[] = [];
    let peers = 0;
    let described = 0;
    const viaDiag = () => diag.push(timed(() => {
      const found = dumpUnixSockets((ino) => wanted.has(String(ino)), `/proc/${holder.pid}/ns/net`);
      peers = found.filter((s) => s.peer !== null).length;
    }));
    const viaProc = () => proc.push(timed(() => {
      const into = new Map<string, SocketDetails>();
      readUnixTable(holder.pid, wanted, into);
      described = into.size;
    }));
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        viaDiag();
        viaProc();
      } else {
        viaProc();
        viaDiag();
      }
    }
    const db = join(dir, 'store.sqlite');
    const cli = join(packageRoot, 'dist', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [cli, '--db', db, 'capture', String(holder.pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`capture failed: ${r.stderr}`);
    const store = openStore(db, { create: false });
    const meta = JSON.parse(store.getCheckpoint(Number(r.stdout)).meta!) as { timingMs: Record<string, number> };
    const stored = store.db.prepare('SELECT count(*) FROM sockets WHERE peer_ino IS NOT NULL').pluck().get() as number;
    store.close();
    const ratio = median(diag) / median(proc);
    return [
      { name: 'unix sockets held', value: holder.inodes.length, unit: 'sockets' },
      { name: 'rounds', value: rounds, unit: 'rounds' },
      { name: 'sock_diag dump, median', value: median(diag), unit: 'ms' },
      { name: '/proc/net/unix read, median', value: median(proc), unit: 'ms' },
      { name: 'sock_diag / /proc/net/unix', value: ratio, unit: 'ratio', target: '<= 1.0', ok: ratio <= 1.0 },
      { name: 'peers found by sock_diag', value: peers, unit: 'sockets', target: `= ${holder.inodes.length}`, ok: peers === holder.inodes.length },
      { name: 'sockets found in /proc/net/unix', value: described, unit: 'sockets' },
      { name: 'capture: sockets phase', value: meta.timingMs.sockets ?? 0, unit: 'ms' },
      { name: 'capture: sockets stored with their peer', value: stored, unit: 'sockets', target: `>= ${holder.inodes.length}`, ok: stored >= holder.inodes.length },
    ];
  } finally {
    process.kill(-holder.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
