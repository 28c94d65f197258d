/**
 * What a process and its tasks hold beyond stat and status: command line, executable,
 * environment and limits (per process), working and root directory (per fs info),
 * namespaces (per task) and the memory map (once per address space). Read into plain
 * data, which crosses between threads, for the writer to store.
 */
import type { NamespaceType, RlimitInput } from '../../store/writer/types.js';
import { parseMaps } from './maps.js';
import { readNamespaces } from './namespaces.js';
import type { CapturePart } from './options.js';
import { attempt, ProcReadError, readText, taskExists } from './procfs.js';
import { readFsParts, readProcessParts, type FsParts } from './taskParts.js';

/** A task to read, with the objects it was found to share (their numbers in the plan; -1 for none). */
export interface TaskPlan {
  tid: number;
  mm: number;
  fs: number;
  /** Its fd table's index in the plan's tables. */
  table: number;
}

export interface ProcessPlan {
  tgid: number;
  /** Its tasks still there after the tasks phase, in tid order. */
  tasks: TaskPlan[];
}

export interface TaskDetails {
  tid: number;
  /** Exited while read: not to be written. */
  vanished: boolean;
  /** part -> why it could not be read. */
  unreadable: Record<string, string>;
  cwd: string | null;
  root: string | null;
  namespaces: Partial<Record<NamespaceType, string>>;
  /** Its address space's maps (MAP_STRIDE values each, maps.ts); null when this task does not bring them. */
  maps: unknown[] | null;
}

export interface ProcessDetails {
  tgid: number;
  cmdline: string[] | null;
  exe: string | null;
  env: string[] | null;
  rlimits: RlimitInput[] | null;
  tasks: TaskDetails[];
}

export interface DetailsWanted {
  skip: ReadonlySet<CapturePart>;
  withEnv: boolean;
}

/**
 * Reads the processes in order; `fdsUnreadable(table)` says why a table's fds could not
 * be listed. Address spaces and fs infos are read once, through their first task that
 * is still there.
 */
export class DetailsReader {
  private readonly fsRead = new Map<number, FsParts>();
  private readonly mapsRead = new Set<number>();

  constructor(
    private readonly want: DetailsWanted,
    private readonly fdsUnreadable: (table: number) => string | null,
  ) {}

  read(p: ProcessPlan): ProcessDetails | null {
    if (p.tasks.length === 0) return null;
    const { skip } = this.want;
    const proc = readProcessParts(p.tasks[0]!.tid, { env: this.want.withEnv && !skip.has('env'), limits: !skip.has('limits') });
    const tasks: TaskDetails[] = [];
    for (const t of p.tasks) {
      let fs: FsParts | null = null;
      if (t.fs >= 0) {
        fs = this.fsRead.get(t.fs) ?? readFsParts(t.tid);
        if (!fs.sawGone) this.fsRead.set(t.fs, fs);
      }
      const ns = skip.has('namespaces') ? null : readNamespaces(t.tid);
      const unreadable: Record<string, string> = { ...proc.unreadable, ...fs?.unreadable };
      if (ns?.unreadable) unreadable.namespaces = ns.unreadable;
      const fdsReason = t.table >= 0 ? this.fdsUnreadable(t.table) : null;
      if (fdsReason) unreadable.fds = fdsReason;

      let maps: unknown[] | null = null;
      let mapsGone = false;
      if (t.mm >= 0 && !skip.has('maps') && !this.mapsRead.has(t.mm)) {
        const r = attempt(() => parseMaps(readText(`/proc/${t.tid}/maps`)));
        if (!(r instanceof ProcReadError)) maps = r;
        else if (r.failure === 'denied') unreadable.maps = r.reason;
        else mapsGone = true;
      }
      const vanished = (proc.sawGone || !!fs?.sawGone || !!ns?.sawGone || mapsGone) && !taskExists(t.tid);
      if (!vanished && maps) this.mapsRead.add(t.mm);
      tasks.push({ tid: t.tid, vanished, unreadable, cwd: fs?.cwd ?? null, root: fs?.root ?? null, namespaces: ns?.links ?? {}, maps: vanished ? null : maps });
    }
    return { tgid: p.tgid, cmdline: proc.cmdline, exe: proc.exe, env: proc.env, rlimits: proc.rlimits, tasks };
  }
}
