/**
 * Processes and threads: pstree.img gives the tree and each process's threads,
 * core-TID.img each thread's state, comm, credentials, signal masks and (for the
 * leader) resource limits, ids-PID.img the objects a process shares (address space,
 * fd table, fs info, signal handlers, namespaces), fs-PID.img its cwd and root, and
 * mm-PID.img its executable.
 */
import { clearField, create, isFieldSet } from '@bufbuild/protobuf';
import { CkptdbError } from '../../../errors.js';
import type { NamespaceType, ObjectId, RlimitInput, TaskInput, TaskObjectKind } from '../../../store/writer/types.js';
import { badImage } from '../imageFile.js';
import { idOfKey, namespaceKey, taskObjectId, taskObjectKey } from '../keys.js';
import {
  RLIMITS, SIGACTION_SIGNALS, isZombieState, limitFromValue, limitValue, sigsetFromHex, sigsetHex, taskStateName, taskStateNumber,
} from '../values.js';
import {
  core_entrySchema, task_core_entrySchema, task_kobj_ids_entrySchema, task_rlimits_entrySchema, thread_core_entrySchema,
  type core_entry, type task_kobj_ids_entry,
} from '../gen/core_pb.js';
import { fs_entrySchema, type fs_entry } from '../gen/fs_pb.js';
import { mm_entrySchema } from '../gen/mm_pb.js';
import { pstree_entrySchema, type pstree_entry } from '../gen/pstree_pb.js';
import { rlimit_entrySchema } from '../gen/rlimit_pb.js';
import { int, overlay, u32, type Binding, type ColumnValue } from './binding.js';
import { decodeFresh, rebuild, rebuildTaskImage, type ExportContext, type OriginalImage, type OutEntry } from './exportContext.js';
import type { TaskRow } from './rows.js';
import type { ImportContext } from './context.js';
import { nulStrings, type ProcessMemory } from './memory.js';

const TASK_OBJECT_IDS: [TaskObjectKind, 'vmId' | 'filesId' | 'fsId' | 'sighandId'][] = [
  ['mm', 'vmId'], ['fdtable', 'filesId'], ['fs', 'fsId'], ['sighand', 'sighandId'],
];

const NAMESPACE_IDS: [NamespaceType, Exclude<keyof task_kobj_ids_entry, '$typeName' | '$unknown'>][] = [
  ['pid', 'pidNsId'], ['net', 'netNsId'], ['ipc', 'ipcNsId'], ['uts', 'utsNsId'], ['mnt', 'mntNsId'],
  ['user', 'userNsId'], ['cgroup', 'cgroupNsId'], ['time', 'timeNsId'],
];

/** One thread's core image with its process leader's, which holds what threads share. */
interface ThreadCore {
  core: core_entry;
  leader: core_entry;
  isLeader: boolean;
}

const CREDS = ['uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid'] as const;

function creds(t: ThreadCore) {
  return t.core.threadCore?.creds;
}

/** tasks columns read from (and written back to) a thread's core image. */
const CORE_BINDINGS: Record<string, Binding<ThreadCore>> = {
  comm: {
    get: (t) => (t.core.threadCore && isFieldSet(t.core.threadCore, thread_core_entrySchema.field.comm) ? t.core.threadCore.comm : t.leader.tc?.comm ?? null),
    set: (t, v) => {
      const comm = String(v);
      if (t.isLeader && t.core.tc) t.core.tc.comm = comm;
      if (t.core.threadCore && (!t.isLeader || isFieldSet(t.core.threadCore, thread_core_entrySchema.field.comm))) t.core.threadCore.comm = comm;
    },
  },
  state: {
    get: (t) => (t.leader.tc ? taskStateName(t.leader.tc.taskState) : null),
    set: (t, v) => {
      if (!t.isLeader) return;
      const n = taskStateNumber(String(v));
      if (n === null || !t.core.tc) throw new Error('not a state CRIU restores (alive or a running or sleeping letter, T, Z)');
      t.core.tc.taskState = n;
    },
  },
  sig_blocked: {
    get: (t) => {
      const tc = t.core.threadCore;
      if (tc && isFieldSet(tc, thread_core_entrySchema.field.blkSigset)) return sigsetHex(tc.blkSigset);
      return t.leader.tc ? sigsetHex(t.leader.tc.blkSigset) : null;
    },
    set: (t, v) => {
      const mask = sigsetFromHex(String(v));
      const tc = t.core.threadCore;
      if (tc && isFieldSet(tc, thread_core_entrySchema.field.blkSigset)) tc.blkSigset = mask;
      else if (t.isLeader && t.core.tc) t.core.tc.blkSigset = mask;
      else if (tc) tc.blkSigset = mask;
    },
  },
  sig_pending: { get: (t) => sigsetHex(signalsMask(t.core.threadCore?.signalsP)) },
  sig_ignored: { get: (t) => (t.leader.tc ? sigsetHex(actionMask(t.leader, (a) => a === 1n)) : null) },
  sig_caught: { get: (t) => (t.leader.tc ? sigsetHex(actionMask(t.leader, (a) => a > 1n)) : null) },
  ...Object.fromEntries(
    CREDS.map((c): [string, Binding<ThreadCore>] => [
      c,
      {
        get: (t) => creds(t)?.[c] ?? null,
        set: (t, v) => {
          const cr = creds(t);
          if (!cr) throw new Error('the thread has no credentials in its core image');
          cr[c] = u32(v, c);
        },
      },
    ]),
  ),
};

/**
 * Keys of tasks.attrs written back to the core image; sig_shared_pending is the
 * process's pending signals (its leader's signals_s), kept per task as a live capture
 * keeps /proc's ShdPnd, and exit_code a zombie's exit status, as a live capture keeps it.
 */
const CORE_ATTRS: Record<string, Binding<ThreadCore>> = {
  sig_shared_pending: { get: (t) => (t.leader.tc ? sigsetHex(signalsMask(t.leader.tc.signalsS)) : null) },
  // a zombie's exit status, as /proc/PID/stat gives it (waitpid's form)
  exit_code: {
    get: (t) => (t.isLeader && t.core.tc && isZombieState(t.core.tc.taskState) ? t.core.tc.exitCode : null),
    set: (t, v) => { if (t.isLeader && t.core.tc) t.core.tc.exitCode = u32(v, 'exit_code'); },
  },
  personality: leaderField('personality'),
  loginuid: leaderField('loginuid'),
  oom_score_adj: leaderField('oomScoreAdj'),
  sched_policy: threadField('schedPolicy'),
  sched_nice: threadField('schedNice'),
  sched_prio: threadField('schedPrio'),
  seccomp_mode: threadField('seccompMode'),
};

function leaderField(field: 'personality' | 'loginuid' | 'oomScoreAdj'): Binding<ThreadCore> {
  return {
    get: (t) => (t.isLeader && t.core.tc && isFieldSet(t.core.tc, task_core_entrySchema.field[field]!) ? t.core.tc[field] : null),
    set: (t, v) => { if (t.isLeader && t.core.tc) t.core.tc[field] = int(v, field); },
  };
}

function threadField(field: 'schedPolicy' | 'schedNice' | 'schedPrio' | 'seccompMode'): Binding<ThreadCore> {
  return {
    get: (t) => (t.core.threadCore && isFieldSet(t.core.threadCore, thread_core_entrySchema.field[field]!) ? t.core.threadCore[field] : null),
    set: (t, v) => { if (t.core.threadCore) t.core.threadCore[field] = int(v, field); },
  };
}

/** si_signo is the first int of a siginfo_t. */
function signalsMask(queue: { signals: { siginfo: Uint8Array }[] } | undefined): bigint {
  let mask = 0n;
  for (const s of queue?.signals ?? []) {
    if (s.siginfo.length < 4) continue;
    const signo = Buffer.from(s.siginfo.buffer, s.siginfo.byteOffset, 4).readInt32LE(0);
    if (signo >= 1 && signo <= 64) mask |= 1n << BigInt(signo - 1);
  }
  return mask;
}

function actionMask(leader: core_entry, pick: (handler: bigint) => boolean): bigint {
  let mask = 0n;
  leader.tc!.sigactions.forEach((sa, i) => {
    const signal = SIGACTION_SIGNALS[i];
    if (signal !== undefined && pick(sa.sigaction)) mask |= 1n << BigInt(signal - 1);
  });
  return mask;
}

function rlimitsOf(leader: core_entry): RlimitInput[] {
  return (leader.tc?.rlimits?.rlimits ?? []).map((r, i) => ({
    resource: RLIMITS[i] ?? `rlimit${i}`,
    soft: limitValue(r.cur),
    hard: limitValue(r.max),
  }));
}

/** Writes rows of task_rlimits back into the leader's task_rlimits_entry. */
function setRlimits(leader: core_entry, rows: { resource: string; soft: ColumnValue; hard: ColumnValue }[]): boolean {
  const tc = leader.tc;
  if (!tc) return false;
  let changed = false;
  for (const row of rows) {
    const i = RLIMITS.indexOf(row.resource as (typeof RLIMITS)[number]);
    const index = i >= 0 ? i : /^rlimit(\d+)$/.test(row.resource) ? Number(row.resource.slice(6)) : -1;
    if (index < 0) throw new Error(`unknown resource ${row.resource}`);
    tc.rlimits ??= create(task_rlimits_entrySchema);
    const list = tc.rlimits.rlimits;
    while (list.length <= index) list.push(create(rlimit_entrySchema, { cur: limitFromValue(null), max: limitFromValue(null) }));
    const soft = limitFromValue(row.soft as number | bigint | null);
    const hard = limitFromValue(row.hard as number | bigint | null);
    if (list[index]!.cur !== soft || list[index]!.max !== hard) {
      list[index]!.cur = soft;
      list[index]!.max = hard;
      changed = true;
    }
  }
  return changed;
}

/**
 * The thread ids of a pstree entry, leader first. A zombie has only its leader: CRIU
 * writes whatever its thread list held for it (not a thread id), and restore ignores it.
 */
function threadsOf(p: pstree_entry, zombie: boolean): number[] {
  if (zombie) return [p.pid];
  return [p.pid, ...p.threads.filter((t) => t !== p.pid)];
}

/** Whether the process of a pstree entry is a zombie, by its leader's core image. */
function isZombie(cores: (name: string) => core_entry | null, p: pstree_entry): boolean {
  const tc = cores(`core-${p.pid}.img`)?.tc;
  return tc !== undefined && isZombieState(tc.taskState);
}

/** Maps the process tree; returns its root, how many processes and which pids it has. */
export function importTasks(ctx: ImportContext, memory: ProcessMemory, withEnv: boolean): { rootPid: number | null; processes: number; pids: Set<number> } {
  const tree = ctx.decodeAll('pstree.img', pstree_entrySchema);
  if (!ctx.images.has('pstree.img')) throw badImage(ctx.where('pstree.img'), 0, 'missing: a CRIU image directory has a pstree.img');
  const seen = new Set<number>();
  const cores = (name: string) => ctx.decodeOne(name, core_entrySchema)?.msg ?? null;
  for (const { entry, msg } of tree) {
    for (const tid of threadsOf(msg, isZombie(cores, msg))) {
      if (seen.has(tid)) throw badImage(ctx.where('pstree.img'), entry.offset, `pid ${tid} appears twice`);
      seen.add(tid);
    }
  }
  for (const { entry, msg: p } of tree) importProcess(ctx, p, entry.offset, memory, withEnv);
  return { rootPid: tree[0]?.msg.pid ?? null, processes: tree.length, pids: seen };
}

function importProcess(ctx: ImportContext, p: pstree_entry, offset: number, memory: ProcessMemory, withEnv: boolean): void {
  const leaderImage = `core-${p.pid}.img`;
  const leader = ctx.decodeOne(leaderImage, core_entrySchema);
  if (!leader) throw badImage(ctx.where('pstree.img'), offset, `process ${p.pid} has no ${leaderImage}`);
  if (!leader.msg.tc) throw badImage(ctx.where(leaderImage), leader.entry.offset, 'the core image of a process leader lacks its task_core_entry (tc)');

  const ids = ctx.decodeOne(`ids-${p.pid}.img`, task_kobj_ids_entrySchema)?.msg ?? leader.msg.ids ?? null;
  const refs: Partial<Record<TaskObjectKind, ObjectId>> = {};
  const namespaces: Partial<Record<NamespaceType, ObjectId>> = {};
  if (ids) {
    for (const [kind, field] of TASK_OBJECT_IDS) refs[kind] = ctx.w.addSharedObject({ kind, key: taskObjectKey(kind, ids[field]) });
    for (const [type, field] of NAMESPACE_IDS) {
      if (isFieldSet(ids, task_kobj_ids_entrySchema.field[field]!)) {
        namespaces[type] = ctx.w.addSharedObject({ kind: 'ns', key: namespaceKey(type, ids[field] as number) });
      }
    }
  }

  const fsImage = `fs-${p.pid}.img`;
  const fs = ctx.decodeOne(fsImage, fs_entrySchema);
  const cwd = fs ? ctx.filePath(fs.msg.cwdId, fsImage, fs.entry.offset, 'cwd') : null;
  const root = fs ? ctx.filePath(fs.msg.rootId, fsImage, fs.entry.offset, 'root') : null;
  const umask = fs ? FS_ATTRS.umask!.get(fs.msg) : null;
  const mmImage = `mm-${p.pid}.img`;
  const mm = ctx.decodeOne(mmImage, mm_entrySchema);
  const exe = mm && mm.msg.exeFileId ? ctx.filePath(mm.msg.exeFileId, mmImage, mm.entry.offset, 'exe_file_id') : null;
  const cmdline = mm ? nulStrings(memory.read(p.pid, mm.msg.mmArgStart, mm.msg.mmArgEnd)) : null;
  const env = mm && withEnv ? nulStrings(memory.read(p.pid, mm.msg.mmEnvStart, mm.msg.mmEnvEnd)) : null;

  for (const tid of threadsOf(p, isZombieState(leader.msg.tc.taskState))) {
    const isLeader = tid === p.pid;
    const core = isLeader ? leader : ctx.decodeOne(`core-${tid}.img`, core_entrySchema);
    if (!core) throw badImage(ctx.where('pstree.img'), offset, `thread ${tid} of process ${p.pid} has no core-${tid}.img`);
    const t: ThreadCore = { core: core.msg, leader: leader.msg, isLeader };
    const col = (name: string) => CORE_BINDINGS[name]!.get(t);
    const attrs = Object.fromEntries(
      Object.entries(CORE_ATTRS).map(([k, b]) => [k, b.get(t)]).filter(([, v]) => v !== null),
    );
    if (umask !== null) attrs.umask = umask;
    const input: TaskInput = {
      pid: tid,
      tgid: p.pid,
      ppid: parentOf(p),
      pgid: p.pgid,
      sid: p.sid,
      state: col('state') as string | null,
      comm: col('comm') as string | null,
      ...Object.fromEntries(CREDS.map((c) => [c, col(c)])),
      cmdline,
      env,
      exe,
      cwd,
      root,
      sigPending: col('sig_pending') as string | null,
      sigBlocked: col('sig_blocked') as string | null,
      sigIgnored: col('sig_ignored') as string | null,
      sigCaught: col('sig_caught') as string | null,
      ...refs,
      namespaces,
      rlimits: isLeader ? rlimitsOf(leader.msg) : [],
      attrs: Object.keys(attrs).length ? attrs : undefined,
    };
    ctx.w.addTask(input);
  }
}


/**
 * A process's parent, or null where the dump does not hold it: CRIU writes 0 for the
 * root's parent, which is outside the tree, and records no more of it.
 */
function parentOf(p: pstree_entry): number | null {
  return p.ppid === 0 ? null : p.ppid;
}

const PSTREE_BINDINGS: Record<string, Binding<pstree_entry>> = {
  ppid: { get: parentOf, set: (p, v) => { p.ppid = v === null ? 0 : u32(v, 'ppid'); } },
  pgid: { get: (p) => p.pgid, set: (p, v) => { p.pgid = u32(v, 'pgid'); } },
  sid: { get: (p) => p.sid, set: (p, v) => { p.sid = u32(v, 'sid'); } },
};

/** pstree.img from the tasks: a process whose leader is gone is dropped, threads follow the rows. */
export function exportPstree(ex: ExportContext, img: OriginalImage): Buffer {
  const threads = new Map<number, number[]>();
  for (const t of ex.rows.tasks.values()) {
    const list = threads.get(Number(t.tgid)) ?? [];
    list.push(Number(t.pid));
    threads.set(Number(t.tgid), list);
  }
  const out: OutEntry<typeof pstree_entrySchema>[] = [];
  const cores = (name: string) => ex.messages(name, core_entrySchema)[0]?.msg ?? null;
  for (const { entry, msg } of decodeFresh(img, pstree_entrySchema)) {
    const leader = ex.rows.tasks.get(msg.pid);
    const tids = threads.get(msg.pid) ?? [];
    threads.delete(msg.pid);
    if (!leader) continue;
    let changed = overlay(msg, PSTREE_BINDINGS, leader, `task ${msg.pid}`);
    const before = threadsOf(msg, isZombie(cores, msg));
    if (before.length !== tids.length || before.some((t) => !tids.includes(t))) {
      const kept = (msg.threads.length ? msg.threads : [msg.pid]).filter((t) => tids.includes(t));
      msg.threads = [...kept, ...tids.filter((t) => !kept.includes(t))];
      changed = true;
    }
    out.push(changed ? { schema: pstree_entrySchema, msg } : { original: entry });
  }
  const [orphan] = threads.keys();
  if (orphan !== undefined) {
    throw new CkptdbError('UNSUPPORTED', `process ${orphan} is not in the checkpoint's pstree.img: ckptdb cannot make the CRIU images of a new process`);
  }
  return rebuild(img, out);
}

/** core-TID.img: comm, state, credentials, blocked signals, attrs and the leader's rlimits. */
export function exportCore(ex: ExportContext, img: OriginalImage): Buffer | null {
  return rebuildTaskImage(ex, img, core_entrySchema, (pid, row, core) => {
    const isLeader = Number(row.tgid) === pid;
    const leader = isLeader ? core : ex.messages(`core-${row.tgid}.img`, core_entrySchema)[0]?.msg ?? core;
    const t: ThreadCore = { core, leader, isLeader };
    const what = `task ${pid}`;
    let changed = overlay(t, CORE_BINDINGS, row, what);
    changed = overlay(t, CORE_ATTRS, row.attrs ? (JSON.parse(row.attrs) as Record<string, ColumnValue>) : {}, what) || changed;
    if (!isLeader) return changed;
    try {
      return setRlimits(core, ex.rows.rlimits.get(pid) ?? []) || changed;
    } catch (e) {
      throw new CkptdbError('BAD_ARGUMENT', `${what}: ${(e as Error).message}`);
    }
  });
}

/** ids-PID.img: the CRIU ids in the keys of the objects the leader refers to. */
export function exportIds(ex: ExportContext, img: OriginalImage): Buffer | null {
  return rebuildTaskImage(ex, img, task_kobj_ids_entrySchema, (pid, row, ids) => setIds(ex, pid, row, ids));
}

function setIds(ex: ExportContext, pid: number, row: TaskRow, ids: task_kobj_ids_entry): boolean {
  let changed = false;
  for (const [kind, field] of TASK_OBJECT_IDS) {
    const key = row[`${kind}_key`] as string | null;
    const id = key === null ? null : taskObjectId(kind, key);
    if (id === null) throw new CkptdbError('UNSUPPORTED', `task ${pid}: its ${kind} object ${key ?? '(none)'} has no CRIU id; ids-${pid}.img needs one`);
    if (ids[field] !== id) {
      ids[field] = id;
      changed = true;
    }
  }
  const ns = ex.rows.namespaces.get(pid);
  for (const [type, field] of NAMESPACE_IDS) {
    const key = ns?.get(type) ?? null;
    const f = task_kobj_ids_entrySchema.field[field]!;
    if (key === null) {
      if (isFieldSet(ids, f)) {
        clearField(ids, f);
        changed = true;
      }
      continue;
    }
    const id = idOfKey(key, type);
    if (id === null) throw new CkptdbError('UNSUPPORTED', `task ${pid}: its ${type} namespace ${key} has no CRIU id`);
    if (!isFieldSet(ids, f) || ids[field] !== id) {
      (ids as Record<string, unknown>)[field] = id;
      changed = true;
    }
  }
  return changed;
}

/** The umask of fs-PID.img, as /proc/PID/status shows it (4 octal digits), in tasks.attrs. */
const FS_ATTRS: Record<string, Binding<fs_entry>> = {
  umask: {
    get: (fs) => (isFieldSet(fs, fs_entrySchema.field.umask) ? fs.umask.toString(8).padStart(4, '0') : null),
    set: (fs, v) => {
      if (v === null) return clearField(fs, fs_entrySchema.field.umask);
      if (!/^[0-7]{1,4}$/.test(String(v))) throw new Error('a umask is octal digits');
      fs.umask = parseInt(String(v), 8);
    },
  },
};

/** fs-PID.img: the process's umask from its leader's attrs; cwd and root stay as they were. */
export function exportFs(ex: ExportContext, img: OriginalImage): Buffer | null {
  return rebuildTaskImage(ex, img, fs_entrySchema, (pid, row, fs) => {
    const attrs = row.attrs ? (JSON.parse(row.attrs) as Record<string, ColumnValue>) : {};
    return 'umask' in attrs ? overlay(fs, FS_ATTRS, attrs, `task ${pid}`) : false;
  });
}
