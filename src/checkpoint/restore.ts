/**
 * restoreCheckpoint: a CRIU checkpoint of the store back into running processes. Its
 * images are written to a scratch directory beside the store, criu restore runs on
 * them, and the directory is removed, whatever happens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CkptdbError } from '../errors.js';
import type { Store } from '../store/store.js';
import { statement } from '../store/sqlFile.js';
import { exportCriu } from '../formats/criu/exportCriu.js';
import { findCriu } from './criuBinary.js';
import { describeExit, firstError, keepLog, runCriu } from './runCriu.js';
import { Scratch } from './scratch.js';
import type { RestoreOptions, RestoreResult } from './types.js';

function restoreArgs(images: string, pidfile: string, opts: RestoreOptions): string[] {
  return [
    'restore', '-D', images, '-o', 'restore.log', '--pidfile', pidfile,
    ...(opts.detach === false ? [] : ['-d']),
    ...(opts.tcpEstablished ? ['--tcp-established'] : []),
    ...(opts.shellJob ? ['--shell-job'] : []),
    ...(opts.criuArgs ?? []),
  ];
}

/**
 * The pids a restore found taken: those CRIU's log names ("Can't fork for 1234: File
 * exists"), else the checkpoint's processes whose pids a process holds now; each with
 * the name of the process holding it, where it is still there.
 */
function pidsInUse(store: Store, checkpointId: number, log: string): string[] {
  let pids: number[] = [];
  try {
    pids = [...readFileSync(log, 'utf8').matchAll(/Can't fork for (\d+): File exists/g)].map((m) => Number(m[1]));
  } catch {
    // no log to read: fall back on the checkpoint's processes
  }
  if (pids.length === 0) {
    const rows = store.db.prepare(statement('internal/checkpoint.sql', 'checkpoint_processes')).all({ checkpoint_id: checkpointId }) as { pid: number }[];
    pids = rows.map((r) => r.pid).filter((pid) => existsSync(`/proc/${pid}`));
  }
  return [...new Set(pids)].map((pid) => {
    try {
      return `${pid} (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()})`;
    } catch {
      return String(pid);
    }
  });
}

export async function restoreCheckpoint(store: Store, checkpointId: number, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const cp = store.getCheckpoint(checkpointId);
  if (cp.source !== 'criu') {
    throw new CkptdbError('UNSUPPORTED', `checkpoint ${checkpointId} was captured from ${cp.source === 'proc' ? '/proc' : `source ${cp.source}`}: it holds no memory or registers, so it cannot be restored`, 'checkpoint the processes with `ckptdb checkpoint` to restore them later');
  }
  const criu = findCriu(opts.criu);
  opts.signal?.throwIfAborted();
  const scratch = Scratch.create(store.path);
  try {
    const images = scratch.path('images');
    const pidfile = scratch.path('restore.pid');
    const exportStarted = performance.now();
    const exported = await exportCriu(store, checkpointId, images);
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    opts.signal?.throwIfAborted();
    const started = performance.now();
    let reported = false;
    let finished = false;
    const report = async () => {
      // without -d, criu runs until the tree ends: tell the pid as soon as the tree runs
      while (!finished && !reported) {
        if (existsSync(pidfile)) {
          const pid = Number(readFileSync(pidfile, 'utf8').trim());
          if (pid > 0) {
            reported = true;
            opts.onRestored?.(pid);
          }
        }
        await sleep(20);
      }
    };
    const running = runCriu(criu.path, restoreArgs(images, pidfile, opts), (criuPid) => scratch.own([process.pid, criuPid]));
    if (opts.detach === false) void report();
    const run = await running;
    finished = true;
    const restoreSeconds = (performance.now() - started) / 1000;
    const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) : 0;
    if (opts.detach !== false || !pid) {
      if (run.code !== 0) {
        const log = `${images}/restore.log`;
        const reason = firstError(log, run.stderr) ?? `criu ${describeExit(run)}`;
        const kept = keepLog(log, store.path, 'restore');
        const where = kept ? ` (log: ${kept})` : '';
        if (/File exists/.test(reason)) {
          const taken = pidsInUse(store, checkpointId, log);
          throw new CkptdbError('PIDS_IN_USE', `criu restore of checkpoint ${checkpointId} failed: pids still in use: ${taken.length ? taken.join(', ') : reason}${where}`, 'end those processes first, or restore in a new pid namespace');
        }
        throw new CkptdbError('CRIU_FAILED', `criu restore of checkpoint ${checkpointId} failed: ${reason}${where}`);
      }
      if (!pid) throw new CkptdbError('CRIU_FAILED', `criu restore of checkpoint ${checkpointId} wrote no pid file`);
    }
    if (!reported && opts.detach !== false) opts.onRestored?.(pid);
    return {
      checkpointId,
      pid,
      criu,
      files: exported.files,
      bytes: exported.bytes,
      exportSeconds,
      restoreSeconds,
      ...(opts.detach === false ? { exitCode: run.code } : {}),
    };
  } finally {
    scratch.remove();
  }
}
