/**
 * The fd tables of a capture, each read through one task that uses it: the fd numbers,
 * then per fd its link, fdinfo and (once per inode) the inode's mode and device.
 */
import { statSync } from 'node:fs';
import type { FileType } from '../../store/writer/types.js';
import { O_CLOEXEC, parseFdInfo, type FdInfo } from './fdinfo.js';
import { classifyLink, typeFromMode, type FileKind } from './fileKind.js';
import { deviceText } from './numbers.js';
import { asReadError, listDir, ProcReadError, readLink, readRecord, taskExists } from './procfs.js';

/** An fd table as the capture tracks it: which task it is read through, and whether kcmp may ask that task. */
export interface FdTableRef {
  /** The lowest tid using the table when it was found: names its fds' files. */
  name: number;
  /** The task its fds are read and compared through; moved to another user of the table if it exits. */
  holder: number;
  /** The tasks using the table, in tid order. */
  users: number[];
  kcmpable: boolean;
  /** Its shared_objects id, set once a task using it is written. */
  objectId: number | null;
  /** Its fd numbers, in order, as listed. */
  fds: number[];
}

export interface FdRecord {
  table: FdTableRef;
  fd: number;
  cloexec: boolean;
  kind: FileKind | null;
  type: FileType;
  info: FdInfo | null;
  mode: number | null;
  dev: string | null;
  rdev: string | null;
  unreadable: string | null;
}

export interface InodeFacts {
  mode: number;
  dev: string;
  /** The device a character or block special file stands for. */
  rdev: string | null;
}

/** Mode and device per inode (mount id and inode number): one stat for the many fds on /dev/null. */
export type InodeCache = Map<string, InodeFacts>;

/** The task the table is read through exited: read through the next user. False when none is left. */
export function nextHolder(table: FdTableRef): boolean {
  table.users = table.users.filter((u) => u !== table.holder);
  if (table.users.length === 0) return false;
  table.holder = table.users[0]!;
  return true;
}

/**
 * Lists the table's fds into table.fds. Returns false when every user has exited;
 * throws ProcReadError 'denied' when the fd directory cannot be listed.
 */
export function listFdTable(table: FdTableRef): boolean {
  for (;;) {
    try {
      table.fds = listDir(`/proc/${table.holder}/fd`).map(Number).sort((a, b) => a - b);
      return true;
    } catch (e) {
      if (!(e instanceof ProcReadError) || e.failure !== 'gone') throw e;
      if (!nextHolder(table)) return false;
    }
  }
}

/** A read that found nothing: the fd was closed, or the task it was read through exited. */
function gone(table: FdTableRef): 'closed' | 'retry' {
  return !taskExists(table.holder) && nextHolder(table) ? 'retry' : 'closed';
}

/** One fd, or null when it was closed (or its table's tasks all exited) while being read. */
export function readFd(table: FdTableRef, fd: number, inodes: InodeCache): FdRecord | null {
  for (;;) {
    const r = readOnce(table, table.holder, fd, inodes);
    if (r !== null) return r;
    if (gone(table) === 'closed') return null;
  }
}

function readOnce(table: FdTableRef, tid: number, fd: number, inodes: InodeCache): FdRecord | null {
  const record: FdRecord = { table, fd, cloexec: false, kind: null, type: 'unknown', info: null, mode: null, dev: null, rdev: null, unreadable: null };
  let link: string;
  try {
    link = readLink(`/proc/${tid}/fd/${fd}`);
  } catch (e) {
    const err = asReadError(e);
    if (err.failure === 'gone') return null;
    record.unreadable = err.reason;
    return record;
  }
  const kind = classifyLink(link);
  record.kind = kind;
  record.type = kind.type;
  let info: FdInfo;
  try {
    info = parseFdInfo(readRecord(`/proc/${tid}/fdinfo/${fd}`));
  } catch (e) {
    const err = asReadError(e);
    if (err.failure === 'gone') return null;
    record.unreadable = err.reason;
    return record;
  }
  record.info = info;
  record.cloexec = (info.flags & O_CLOEXEC) !== 0;
  const cacheKey = info.ino ? `${info.mntId}:${info.ino}` : null;
  let facts = cacheKey ? inodes.get(cacheKey) : undefined;
  if (!facts) {
    try {
      const st = statSync(`/proc/${tid}/fd/${fd}`, { throwIfNoEntry: false });
      if (!st) return null;
      facts = { mode: st.mode, dev: deviceText(st.dev), rdev: st.rdev ? deviceText(st.rdev) : null };
      if (cacheKey) inodes.set(cacheKey, facts);
    } catch (e) {
      const err = asReadError(e);
      if (err.failure === 'gone') return null;
      record.unreadable = err.reason;
    }
  }
  if (facts) {
    record.mode = facts.mode;
    record.dev = facts.dev;
    record.rdev = facts.rdev;
    if (kind.needsMode) record.type = typeFromMode(kind, facts.mode);
  }
  return record;
}
