/**
 * Writes the tasks with what they refer to: their shared objects, namespaces, limits,
 * command line and environment, and once per address space its memory map.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { NamespaceType } from '../../store/writer/types.js';
import { parseMaps, type MapEntry } from './maps.js';
import { readNamespaces } from './namespaces.js';
import type { ObjectIds } from './objects.js';
import type { CapturePart } from './options.js';
import type { Pacer } from './pacer.js';
import { attempt, ProcReadError, readText, taskExists } from './procfs.js';
import { readFsParts, readProcessParts, type FsParts } from './taskParts.js';
import type { TaskObject, TaskState } from './tasks.js';
import type { CaptureWarnings } from './warnings.js';

export interface TaskWriteContext {
  writer: CheckpointWriter;
  objects: ObjectIds;
  warnings: CaptureWarnings;
  skip: ReadonlySet<CapturePart>;
  withEnv: boolean;
  pacer: Pacer;
  /** fd tables whose fds could not be listed, with the reason. */
  fdsUnreadable: ReadonlyMap<TaskObject, string>;
}

/** Writes every task that is still there; returns how many processes were written. */
export async function writeTasks(tasks: TaskState[], ctx: TaskWriteContext): Promise<number> {
  const byProcess = new Map<number, TaskState[]>();
  for (const t of tasks) {
    const list = byProcess.get(t.tgid);
    if (list) list.push(t);
    else byProcess.set(t.tgid, [t]);
  }
  const fsRead = new Map<TaskObject, FsParts>();
  const mapsWritten = new Set<TaskObject>();
  let processes = 0;
  let i = 0;
  for (const members of byProcess.values()) {
    if (writeProcess(members, ctx, fsRead, mapsWritten)) processes++;
    await ctx.pacer.step('details', ++i, byProcess.size);
  }
  return processes;
}

function writeProcess(members: TaskState[], ctx: TaskWriteContext, fsRead: Map<TaskObject, FsParts>, mapsWritten: Set<TaskObject>): boolean {
  const live = members.filter((t) => !t.vanished);
  if (live.length === 0) return false;
  const { writer, objects, warnings, skip } = ctx;
  const proc = readProcessParts(live[0]!.tid, { env: ctx.withEnv && !skip.has('env'), limits: !skip.has('limits') });
  let written = false;
  for (const t of live) {
    let fs: FsParts | null = null;
    if (t.fs) {
      fs = fsRead.get(t.fs) ?? readFsParts(t.tid);
      if (!fs.sawGone) fsRead.set(t.fs, fs);
    }
    const ns = skip.has('namespaces') ? null : readNamespaces(t.tid);
    const unreadable: Record<string, string> = { ...proc.unreadable, ...fs?.unreadable };
    if (ns?.unreadable) unreadable.namespaces = ns.unreadable;
    const fdsReason = t.fdtable && ctx.fdsUnreadable.get(t.fdtable);
    if (fdsReason) unreadable.fds = fdsReason;

    let maps: MapEntry[] | null = null;
    let mapsGone = false;
    if (t.mm && !skip.has('maps') && !mapsWritten.has(t.mm)) {
      const r = attempt(() => parseMaps(readText(`/proc/${t.tid}/maps`)));
      if (!(r instanceof ProcReadError)) maps = r;
      else if (r.failure === 'denied') unreadable.maps = r.reason;
      else mapsGone = true;
    }
    if ((proc.sawGone || fs?.sawGone || ns?.sawGone || mapsGone) && !taskExists(t.tid)) {
      t.vanished = true;
      warnings.vanishedTasks++;
      continue;
    }
    warnings.unreadable += Object.keys(unreadable).length;

    const mm = objects.task(t.mm);
    const namespaces: Partial<Record<NamespaceType, number>> = {};
    for (const [type, link] of Object.entries(ns?.links ?? {})) namespaces[type as NamespaceType] = objects.get('ns', link);
    const { stat, status } = t;
    writer.addTask({
      pid: t.tid,
      tgid: t.tgid,
      ppid: stat.ppid,
      pgid: stat.pgid,
      sid: stat.sid,
      state: stat.state,
      comm: stat.comm,
      uid: status.uid[0] ?? null,
      euid: status.uid[1] ?? null,
      suid: status.uid[2] ?? null,
      fsuid: status.uid[3] ?? null,
      gid: status.gid[0] ?? null,
      egid: status.gid[1] ?? null,
      sgid: status.gid[2] ?? null,
      fsgid: status.gid[3] ?? null,
      cmdline: proc.cmdline,
      exe: proc.exe,
      cwd: fs?.cwd ?? null,
      root: fs?.root ?? null,
      startTime: stat.startTime,
      sigPending: status.sigPending,
      sigBlocked: status.sigBlocked,
      sigIgnored: status.sigIgnored,
      sigCaught: status.sigCaught,
      env: proc.env,
      mm,
      fdtable: objects.task(t.fdtable),
      fs: objects.task(t.fs),
      sighand: objects.task(t.sighand),
      namespaces,
      rlimits: proc.rlimits ?? undefined,
      unreadable,
      attrs: {
        sig_shared_pending: status.sharedPending,
        umask: status.umask,
        ...(stat.kernelThread ? { kernel_thread: true } : {}),
        ...(stat.state === 'Z' ? { exit_code: stat.exitCode } : {}),
      },
    });
    written = true;
    if (maps && mm !== null) {
      for (const m of maps) {
        writer.addMap({
          mm, start: m.start, end: m.end, perms: m.perms, pgoff: m.pgoff, dev: m.dev, inode: m.inode, path: m.path,
          attrs: m.deleted ? { deleted: true } : undefined,
        });
      }
      mapsWritten.add(t.mm!);
    }
  }
  return written;
}
