/**
 * captureProcesses: one checkpoint of live processes, read from /proc and written
 * through the checkpoint writer in one transaction.
 *
 *   1. check the selection (a PID that does not exist fails here, before any write)
 *   2. take the store's write lock, then with --freeze stop the processes
 *   3. read the tasks; find which share mm, fd table, fs and signal handlers (kcmp)
 *   4. list each fd table once, through one task that uses it
 *   5. write the tasks with their details and memory maps
 *   6. read the fds table by table, place each on its open file (kcmp) and write
 *      files and fds as they are found; then socket details, per network namespace,
 *      from sock_diag (unix) and /proc/net
 *   7. resume the frozen processes, commit
 *
 * Everything that vanishes meanwhile is skipped and counted; access denied is recorded
 * as unreadable. Only a failure of the store (or an abort) fails the capture, and then
 * nothing of it remains and every stopped process is resumed.
 */
import { release } from 'node:os';
import type { Store } from '../../store/store.js';
import { freezeProcesses, type Frozen } from '../freeze.js';
import { openKcmp } from '../kcmp.js';
import { captureFds } from './fdPhase.js';
import { startFdReader, type FdReader } from './fdReaders.js';
import { listFdTable, type FdTableRef } from './fds.js';
import { FilePlacer } from './files.js';
import { ObjectIds } from './objects.js';
import type { CaptureOptions, CaptureResult } from './options.js';
import { Pacer } from './pacer.js';
import { checkSelection, selectProcesses } from './processes.js';
import { ProcReadError, taskExists } from './procfs.js';
import { describeSockets } from './sockets.js';
import { groupTasks, readTasks, type TaskObject, type TaskState } from './tasks.js';
import { noWarnings } from './warnings.js';
import { writeTasks } from './writeTasks.js';

export async function captureProcesses(store: Store, options: CaptureOptions = {}): Promise<CaptureResult> {
  const t0 = performance.now();
  const skip = new Set(options.skip ?? []);
  const withEnv = !!options.withEnv && !skip.has('env');
  const roots = checkSelection(options);
  const access = openKcmp();
  const kcmp = access.available ? access.kcmp : null;
  const warnings = noWarnings();
  const writer = store.beginCheckpoint({
    source: 'proc',
    label: options.label ?? null,
    kernel: release(),
    rootPid: options.all ? null : (roots[0] ?? null),
    startedAt: new Date(),
    meta: {
      capture: { pids: roots, tree: !!options.tree, all: !!options.all, freeze: !!options.freeze, withEnv, skip: [...skip], excludeOwnTree: !!options.excludeOwnTree },
      capturedBy: process.pid,
    },
  });
  const pacer = new Pacer(options.signal, options.onProgress);
  const timing: Record<string, number> = {};
  let mark = performance.now();
  const lap = (phase: string) => {
    const now = performance.now();
    timing[phase] = Math.round(now - mark);
    mark = now;
  };
  const select = () => selectProcesses(options, roots);
  let frozen: Frozen | null = null;
  let reader: FdReader | null = null;
  let frozenAt = 0;
  let frozenMs = 0;
  const thaw = () => {
    if (!frozen || frozenMs) return;
    frozen.thaw();
    frozenMs = performance.now() - frozenAt;
  };
  try {
    if (options.freeze) {
      frozen = await freezeProcesses(select, { signal: options.signal, method: options.freezeMethod });
      frozenAt = performance.now();
      warnings.notStopped = frozen.notStopped;
    }
    const pids = frozen ? frozen.processes : select();
    warnings.vanishedTasks += roots.filter((p) => !pids.includes(p) && !taskExists(p)).length;
    lap('select');

    const tasks: TaskState[] = [];
    for (let i = 0; i < pids.length; i++) {
      tasks.push(...readTasks([pids[i]!], !skip.has('threads'), kcmp, warnings));
      await pacer.step('tasks', i + 1, pids.length);
    }
    // a held task reads as traced or frozen: store the state it was in before
    for (const t of tasks) t.stat.state = frozen?.statesBefore.get(t.tid) ?? t.stat.state;
    groupTasks(tasks, kcmp, warnings);
    lap('tasks');

    const fdsUnreadable = new Map<TaskObject, string>();
    const tables = skip.has('fds') ? [] : fdTables(tasks);
    await listFds(tables, fdsUnreadable, pacer);
    lap('tables');

    // the fds are read ahead by another thread while the tasks are written
    reader = startFdReader(tables);
    const objects = new ObjectIds(writer, warnings);
    const processes = await writeTasks(tasks, { writer, objects, warnings, skip, withEnv, pacer, fdsUnreadable });
    for (const t of tables) t.objectId = t.object.id;
    lap('details');

    const sockets = await captureFds(tables, reader, { writer, objects, warnings, pacer, placer: new FilePlacer(kcmp) });
    lap('fds');
    const unixSources = skip.has('sockets') ? [] : describeSockets(sockets, writer, warnings);
    lap('sockets');
    thaw();

    const isFrozen = !!frozen && frozen.notStopped.length === 0;
    writer.setFrozen(isFrozen);
    const done = writer.done({
      warnings,
      kcmp: access.available ? { used: true, calls: kcmp!.calls } : { used: false, reason: access.reason },
      timingMs: timing,
      sockets: { unix: unixSources },
      ...(frozen ? { freeze: freezeMeta(frozen, frozenMs) } : {}),
    });
    return {
      checkpointId: done.checkpointId,
      counts: { ...done.counts, processes },
      warnings,
      frozen: isFrozen,
      stopped: frozen?.stopped.length ?? 0,
      frozenMs,
      freezeMethod: frozen?.method ?? null,
      sigstopped: frozen?.sigstopped ?? [],
      kcmpUnavailable: access.available ? null : access.reason,
      kcmpCalls: kcmp?.calls ?? 0,
      seconds: (performance.now() - t0) / 1000,
      peakRss: done.peakRss,
    };
  } catch (e) {
    writer.abort();
    throw e;
  } finally {
    thaw();
    await reader?.close();
  }
}

/** What show tells of a freeze (src/cli/checkpointNotes.ts reads it). */
function freezeMeta(f: Frozen, heldMs: number) {
  return {
    method: f.method,
    ...(f.cgroup ? { cgroup: f.cgroup } : {}),
    stopped: f.stopped.length,
    alreadyStopped: f.alreadyStopped,
    heldMs: Math.round(heldMs),
    ...(f.sigstopped.length ? { sigstop: f.sigstopped } : {}),
  };
}

interface TableWithObject extends FdTableRef {
  object: TaskObject;
}

/** One entry per fd table, read through its lowest-numbered task, in that task's order. */
function fdTables(tasks: TaskState[]): TableWithObject[] {
  const tables = new Map<TaskObject, TableWithObject>();
  for (const t of tasks) {
    const o = t.fdtable;
    if (!o || t.vanished || tables.has(o)) continue;
    const users = o.users.map((u) => u.tid);
    tables.set(o, { object: o, name: users[0]!, holder: users[0]!, users, kcmpable: o.users.every((u) => u.kcmpable), objectId: null, fds: [] });
  }
  return [...tables.values()].sort((a, b) => a.name - b.name);
}

/** Lists every table's fds; a table nobody may list is recorded with the reason. */
async function listFds(tables: TableWithObject[], unreadable: Map<TaskObject, string>, pacer: Pacer): Promise<void> {
  for (let i = 0; i < tables.length; i++) {
    const table = tables[i]!;
    try {
      listFdTable(table);
    } catch (e) {
      if (!(e instanceof ProcReadError)) throw e;
      unreadable.set(table.object, e.reason);
    }
    await pacer.step('tables', i + 1, tables.length);
  }
}
