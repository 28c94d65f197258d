/**
 * Writes a process's tasks from what was read of them (details.ts): each with its
 * shared objects, namespaces, limits, command line and environment, and once per
 * address space its memory map.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { NamespaceType } from '../../store/writer/types.js';
import type { ProcessDetails } from './details.js';
import { MAP_STRIDE } from './maps.js';
import type { ObjectIds } from './objects.js';
import type { TaskState } from './tasks.js';
import type { CaptureWarnings } from './warnings.js';

export interface TaskWriteContext {
  writer: CheckpointWriter;
  objects: ObjectIds;
  warnings: CaptureWarnings;
  /** The tasks of the capture by tid. */
  tasks: ReadonlyMap<number, TaskState>;
}

/** Writes every task of the process that is still there; returns whether any was. */
export function writeProcess(d: ProcessDetails, ctx: TaskWriteContext): boolean {
  const { writer, objects, warnings } = ctx;
  let written = false;
  for (const td of d.tasks) {
    const t = ctx.tasks.get(td.tid)!;
    if (td.vanished) {
      t.vanished = true;
      warnings.vanishedTasks++;
      continue;
    }
    warnings.unreadable += Object.keys(td.unreadable).length;
    const mm = objects.task(t.mm);
    const namespaces: Partial<Record<NamespaceType, number>> = {};
    for (const [type, link] of Object.entries(td.namespaces)) namespaces[type as NamespaceType] = objects.get('ns', link);
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
      cmdline: d.cmdline,
      exe: d.exe,
      cwd: td.cwd,
      root: td.root,
      startTime: stat.startTime,
      sigPending: status.sigPending,
      sigBlocked: status.sigBlocked,
      sigIgnored: status.sigIgnored,
      sigCaught: status.sigCaught,
      env: d.env,
      mm,
      fdtable: objects.task(t.fdtable),
      fs: objects.task(t.fs),
      sighand: objects.task(t.sighand),
      namespaces,
      rlimits: d.rlimits ?? undefined,
      unreadable: td.unreadable,
      attrs: {
        sig_shared_pending: status.sharedPending,
        umask: status.umask,
        ...(stat.kernelThread ? { kernel_thread: true } : {}),
        ...(stat.state === 'Z' ? { exit_code: stat.exitCode } : {}),
      },
    });
    written = true;
    const maps = td.maps;
    if (maps && mm !== null) {
      for (let i = 0; i < maps.length; i += MAP_STRIDE) {
        writer.addMap({
          mm,
          start: maps[i] as string,
          end: maps[i + 1] as string,
          perms: maps[i + 2] as string,
          pgoff: maps[i + 3] as number | bigint,
          dev: maps[i + 4] as string,
          inode: maps[i + 5] as number | bigint,
          path: maps[i + 6] as string | null,
          attrs: maps[i + 7] ? { deleted: true } : undefined,
        });
      }
    }
  }
  return written;
}
