/**
 * The tasks of a capture and the objects they share: address space, fd table, fs info
 * and signal handlers, decided by kcmp(KCMP_VM / FILES / FS / SIGHAND).
 */
import type { TaskObjectKind } from '../../store/writer/types.js';
import { KCMP_FILES, KCMP_FS, KCMP_SIGHAND, KCMP_VM, KcmpError, type Kcmp, type KcmpType } from '../kcmp.js';
import { numericEntries, ProcReadError, taskExists } from './procfs.js';
import { findSharing, type SharingRules } from './sharing.js';
import { readStat, readStatus, type TaskStat, type TaskStatus } from './stat.js';
import type { CaptureWarnings } from './warnings.js';

/** A kernel object some tasks share, found by kcmp (or inferred). */
export interface TaskObject {
  kind: TaskObjectKind;
  /** The first task (lowest tid) that uses it: stable and meaningful. */
  key: string;
  inferred: boolean;
  users: TaskState[];
  /** Its shared_objects id once written. */
  id: number | null;
}

export interface TaskState {
  tid: number;
  tgid: number;
  stat: TaskStat;
  status: TaskStatus;
  kcmpable: boolean;
  vanished: boolean;
  mm: TaskObject | null;
  fdtable: TaskObject | null;
  fs: TaskObject | null;
  sighand: TaskObject | null;
}

/**
 * Reads stat and status of every task of the processes (only the main thread with
 * threads: false). Tasks that exit meanwhile are counted, not returned.
 */
export function readTasks(pids: number[], threads: boolean, kcmp: Kcmp | null, warnings: CaptureWarnings): TaskState[] {
  const tasks: TaskState[] = [];
  for (const pid of pids) {
    let tids: number[];
    try {
      tids = threads ? numericEntries(`/proc/${pid}/task`) : [pid];
    } catch (e) {
      if (!(e instanceof ProcReadError)) throw e;
      warnings.vanishedTasks++;
      continue;
    }
    for (const tid of tids) {
      const t = readTask(tid, kcmp);
      if (t) tasks.push(t);
      else warnings.vanishedTasks++;
    }
  }
  return tasks;
}

function readTask(tid: number, kcmp: Kcmp | null): TaskState | null {
  try {
    const stat = readStat(tid);
    const status = readStatus(tid);
    const kcmpable = kcmp ? kcmp.permitted(tid) : false;
    return { tid, tgid: status.tgid, stat, status, kcmpable, vanished: false, mm: null, fdtable: null, fs: null, sighand: null };
  } catch (e) {
    // stat and status are world-readable: any failure here means the task is gone
    if (e instanceof ProcReadError || (e instanceof KcmpError && e.gone)) return null;
    throw e;
  }
}

const dead = (t: TaskState) => t.stat.state === 'Z' || t.stat.state === 'X';

interface Kind {
  kind: TaskObjectKind;
  type: KcmpType;
  /** Tasks that have such an object at all: an exited task has no mm, fd table or fs. */
  has(t: TaskState): boolean;
  /** Cheap evidence that sharing implies. */
  bucket(t: TaskState): string;
}

const KINDS: Kind[] = [
  // kernel threads have no mm; kcmp would call all their NULL mms equal
  { kind: 'mm', type: KCMP_VM, has: (t) => !t.stat.kernelThread && !dead(t), bucket: (t) => t.stat.mmLayout },
  // fd counts and working directories change under a running task: no evidence holds
  // for these, so all tasks are one bucket (tasks are few next to fds)
  { kind: 'fdtable', type: KCMP_FILES, has: (t) => !dead(t), bucket: () => '' },
  { kind: 'fs', type: KCMP_FS, has: (t) => !dead(t), bucket: () => '' },
  { kind: 'sighand', type: KCMP_SIGHAND, has: (t) => t.stat.state !== 'X', bucket: () => '' },
];

/**
 * Finds which tasks share each kind of object and links every task to its objects.
 * Tasks that turn out to be gone are marked vanished and counted.
 */
export function groupTasks(tasks: TaskState[], kcmp: Kcmp | null, warnings: CaptureWarnings): void {
  for (const k of KINDS) {
    const rules: SharingRules<TaskState> = {
      bucket: k.bucket,
      // threads of one process share all four unless they unshared: the best guess
      evidence: (t) => String(t.tgid),
      kcmpable: (t) => t.kcmpable,
      compare: (a, b) => kcmp!.compare(a.tid, b.tid, k.type),
      alive: (t) => taskExists(t.tid),
      order: (a, b) => a.tid - b.tid,
    };
    const { groups, vanished } = findSharing(
      tasks.filter((t) => !t.vanished && k.has(t)),
      rules,
    );
    for (const t of vanished) {
      if (!t.vanished) warnings.vanishedTasks++;
      t.vanished = true;
    }
    for (const g of groups) {
      const users = g.members.filter((t) => !t.vanished);
      if (users.length === 0) continue;
      const object: TaskObject = { kind: k.kind, key: String(users[0]!.tid), inferred: g.inferred, users, id: null };
      for (const t of users) t[k.kind] = object;
    }
  }
}
