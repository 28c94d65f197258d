/**
 * checkpointProcesses: criu dump of a live process tree straight into the store, as one
 * new checkpoint. The dump goes to a scratch directory beside the store, is imported in
 * one transaction and the directory removed, whatever happens.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { CkptdbError } from '../errors.js';
import type { Store } from '../store/store.js';
import { checkSelection, selectProcesses } from '../capture/proc/processes.js';
import { importCriu } from '../formats/criu/importCriu.js';
import { findCriu } from './criuBinary.js';
import { describeExit, firstError, keepLog, runCriu } from './runCriu.js';
import { Scratch } from './scratch.js';
import type { CheckpointOptions, CheckpointResult } from './types.js';

/** The one root of the tree the PIDs name; every other PID must be in its tree. */
export function treeRoot(pids: number[], tree: boolean): number {
  const roots = checkSelection({ pids });
  const trees = new Map(roots.map((r) => [r, selectProcesses({ pids: [r], tree: true }, [r])]));
  const root = roots.find((r) => roots.every((p) => trees.get(r)!.includes(p)));
  if (root === undefined) {
    throw new CkptdbError('BAD_ARGUMENT', `PIDs ${roots.join(', ')} are not one process tree: criu dumps one tree per run`, 'name the root of the tree, with --tree');
  }
  const others = trees.get(root)!.filter((p) => !roots.includes(p));
  if (!tree && others.length > 0) {
    throw new CkptdbError('BAD_ARGUMENT', `process ${root} has descendants (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}): criu dumps a process with all of them`, 'add --tree');
  }
  return root;
}

function dumpArgs(pid: number, images: string, opts: CheckpointOptions): string[] {
  return [
    'dump', '-t', String(pid), '-D', images, '-o', 'dump.log',
    ...(opts.kill ? [] : ['--leave-running']),
    ...(opts.tcpEstablished ? ['--tcp-established'] : []),
    ...(opts.shellJob ? ['--shell-job'] : []),
    ...(opts.criuArgs ?? []),
  ];
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, name) => n + statSync(`${dir}/${name}`).size, 0);
}

export async function checkpointProcesses(store: Store, opts: CheckpointOptions): Promise<CheckpointResult> {
  const criu = findCriu(opts.criu);
  const pid = treeRoot(opts.pids, !!opts.tree);
  opts.signal?.throwIfAborted();
  const scratch = Scratch.create(store.path);
  try {
    const images = scratch.path('images');
    const started = performance.now();
    opts.onProgress?.({ phase: 'dump', done: 0, total: 0 });
    mkdirSync(images, { mode: 0o700 });
    const run = await runCriu(criu.path, dumpArgs(pid, images, opts), (criuPid) => scratch.own([process.pid, criuPid]));
    const dumpSeconds = (performance.now() - started) / 1000;
    if (run.code !== 0) {
      const log = `${images}/dump.log`;
      const reason = firstError(log, run.stderr) ?? `criu ${describeExit(run)}`;
      const kept = keepLog(log, store.path, 'dump');
      throw new CkptdbError('CRIU_FAILED', `criu dump of process ${pid} failed: ${reason}${kept ? ` (log: ${kept})` : ''}`, 'nothing was written to the store');
    }
    opts.signal?.throwIfAborted();
    const total = dirBytes(images);
    let done = 0;
    const importStarted = performance.now();
    const r = await importCriu(store, images, {
      label: opts.label ?? null,
      env: !!opts.withEnv,
      signal: opts.signal,
      onProgress: (n) => {
        done += n;
        opts.onProgress?.({ phase: 'import', done, total });
      },
      meta: { dump: { pid, criu: criu.path, version: criu.version, leaveRunning: !opts.kill, seconds: dumpSeconds } },
    });
    return {
      checkpointId: r.checkpointId,
      pid,
      criu,
      counts: r.counts,
      files: r.images,
      bytes: r.bytes,
      newBytes: r.newBytes,
      dumpSeconds,
      importSeconds: (performance.now() - importStarted) / 1000,
    };
  } finally {
    scratch.remove();
  }
}
