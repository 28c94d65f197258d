/**
 * captureProcesses: one checkpoint of live processes, read from /proc and written
 * through the checkpoint writer in one transaction.
 *
 *   1. check the selection (a PID that does not exist fails here, before any write)
 *   2. take the store's write lock, then with --freeze stop the processes
 *   3. read the tasks; find which share mm, fd table, fs and signal handlers (kcmp)
 *   4. list each fd table once, through one task that uses it
 *   5. write the tasks with their details and memory maps
 *   6. write the fds table by table, each placed on its open file (kcmp), files and
 *      fds as they are found; then socket details, per network namespace, from
 *      sock_diag (unix) and /proc/net
 *   7. resume the frozen processes, commit
 *
 * Steps 4 to 6 are read by two other threads while this one writes
 * (captureSource.ts); they start with the capture and wait for the tasks.
 *
 * Everything that vanishes meanwhile is skipped and counted; access denied is recorded
 * as unreadable. Only a failure of the store (or an abort) fails the capture, and then
 * nothing of it remains and every stopped process is resumed.
 */
import { release } from 'node:os';
import type { Store } from '../../store/store.js';
import { freezeProcesses, type Frozen } from '../freeze.js';
import { openKcmp } from '../kcmp.js';
import { openCaptureSource, type CapturePlan, type CaptureSource } from './captureSource.js';
import type { ProcessPlan, TaskPlan } from './details.js';
import type { TableState } from './fdRecords.js';
import { FdWriter } from './fdPhase.js';
import { ObjectIds } from './objects.js';
import type { CaptureOptions, CaptureResult } from './options.js';
import { Pacer } from './pacer.js';
import { checkSelection, selectProcesses } from './processes.js';
import { taskExists } from './procfs.js';
import { writeSockets } from './sockets.js';
import { groupTasks, readTasks, type TaskObject, type TaskState } from './tasks.js';
import { noWarnings } from './warnings.js';
import { writeProcess } from './writeTasks.js';

export async function captureProcesses(store: Store, options: CaptureOptions = {}): Promise<CaptureResult> {
  const t0 = performance.now();
  const skip = new Set(options.skip ?? []);
  const withEnv = !!options.withEnv && !skip.has('env');
  const roots = checkSelection(options);
  const access = openKcmp();
  const kcmp = access.available ? access.kcmp : null;
  const warnings = noWarnings();
  let source: CaptureSource | null = null;
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
  let frozenAt = 0;
  let frozenMs = 0;
  const thaw = () => {
    if (!frozen || frozenMs) return;
    frozen.thaw();
    frozenMs = performance.now() - frozenAt;
  };
  try {
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
    try {
      if (options.freeze) {
        frozen = await freezeProcesses(select, { signal: options.signal, method: options.freezeMethod });
        frozenAt = performance.now();
        warnings.notStopped = frozen.notStopped;
      }
      const pids = frozen ? frozen.processes : select();
      warnings.vanishedTasks += roots.filter((p) => !pids.includes(p) && !taskExists(p)).length;
      // the readers start while the tasks are read
      source = openCaptureSource(pids, kcmp, !skip.has('fds'));
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

      const { plan, tableObjects } = planOf(tasks, [...skip], withEnv, kcmp !== null);
      source.begin(plan);
      const listed = await source.listed();
      await pacer.step('tables', listed.length, listed.length);
      lap('tables');

      const objects = new ObjectIds(writer, warnings);
      const byTid = new Map(tasks.map((t) => [t.tid, t]));
      let processes = 0;
      let done = 0;
      for (let batch = await source.nextDetails(); batch; batch = await source.nextDetails()) {
        for (const d of batch) if (writeProcess(d, { writer, objects, warnings, tasks: byTid })) processes++;
        done += batch.length;
        await pacer.step('details', done, plan.processes.length);
      }
      // a table none of whose tasks was written (they all exited) has no object: its fds have nowhere to hang
      const fdtables = tableObjects.map((o) => o.id);
      lap('details');

      const fds = new FdWriter(writer, warnings);
      const total = plan.tables.length;
      for (let t = await source.nextTable(); t; t = await source.nextTable()) {
        fds.write(t, fdtables[t.index] ?? null);
        source.written();
        await pacer.step('fds', t.index + 1, total);
      }
      fds.finish();
      lap('fds');
      const end = await source.end();
      if (!skip.has('sockets')) writeSockets(fds.sockets, end.sockets.details, writer, warnings);
      lap('sockets');
      thaw();

      const isFrozen = !!frozen && frozen.notStopped.length === 0;
      writer.setFrozen(isFrozen);
      const result = writer.done({
        warnings,
        kcmp: access.available ? { used: true, calls: kcmp!.calls + end.kcmpCalls } : { used: false, reason: access.reason },
        timingMs: timing,
        sockets: { unix: end.sockets.sources },
        ...(frozen ? { freeze: freezeMeta(frozen, frozenMs) } : {}),
      });
      return {
        checkpointId: result.checkpointId,
        counts: { ...result.counts, processes },
        warnings,
        frozen: isFrozen,
        stopped: frozen?.stopped.length ?? 0,
        frozenMs,
        freezeMethod: frozen?.method ?? null,
        sigstopped: frozen?.sigstopped ?? [],
        kcmpUnavailable: access.available ? null : access.reason,
        kcmpCalls: (kcmp?.calls ?? 0) + end.kcmpCalls,
        seconds: (performance.now() - t0) / 1000,
        peakRss: result.peakRss,
      };
    } catch (e) {
      writer.abort();
      throw e;
    }
  } finally {
    thaw();
    await source?.close();
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

/**
 * What the readers are to read: every fd table once, through its lowest-numbered task,
 * tables in that task's order; every process with its tasks still there, each task
 * with the numbers of the address space, fs info and fd table it uses.
 */
function planOf(tasks: TaskState[], skip: CaptureOptions['skip'] & object, withEnv: boolean, kcmp: boolean): { plan: CapturePlan; tableObjects: TaskObject[] } {
  const tableOf = new Map<TaskObject, number>();
  const found: { object: TaskObject; state: TableState }[] = [];
  for (const t of tasks) {
    const o = t.fdtable;
    if (!o || t.vanished || tableOf.has(o)) continue;
    tableOf.set(o, -1);
    const users = o.users.map((u) => u.tid);
    found.push({ object: o, state: { name: users[0]!, holder: users[0]!, users, kcmpable: o.users.every((u) => u.kcmpable) } });
  }
  found.sort((a, b) => a.state.name - b.state.name);
  found.forEach((f, i) => tableOf.set(f.object, i));
  const numbers = new Map<TaskObject, number>();
  const number = (o: TaskObject | null) => {
    if (!o) return -1;
    let n = numbers.get(o);
    if (n === undefined) numbers.set(o, (n = numbers.size));
    return n;
  };
  const byProcess = new Map<number, TaskPlan[]>();
  for (const t of tasks) {
    if (t.vanished) continue;
    const plan: TaskPlan = { tid: t.tid, mm: number(t.mm), fs: number(t.fs), table: t.fdtable ? (tableOf.get(t.fdtable) ?? -1) : -1 };
    const list = byProcess.get(t.tgid);
    if (list) list.push(plan);
    else byProcess.set(t.tgid, [plan]);
  }
  const processes: ProcessPlan[] = [...byProcess].map(([tgid, list]) => ({ tgid, tasks: list }));
  return {
    plan: { processes, tables: found.map((f) => f.state), skip: [...skip], withEnv, kcmp },
    tableObjects: found.map((f) => f.object),
  };
}
