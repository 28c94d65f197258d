/**
 * One fd table, read through one task that uses it: per fd the link, fdinfo and (once
 * per inode) the inode's mode and device.
 */
import { statSync } from 'node:fs';
import type { FileType } from '../types.js';
import { O_CLOEXEC, parseFdInfo, type FdInfo } from './fdinfo.js';
import { classifyLink, typeFromMode, type FileKind } from './fileKind.js';
import { deviceText } from './numbers.js';
import { attempt, asReadError, listDir, ProcReadError, readLink, readText } from './procfs.js';
import type { CaptureWarnings } from './warnings.js';

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

/**
 * Reads every fd of the table through one of its users. Returns null when all of them
 * have exited; throws ProcReadError 'denied' when the fd directory cannot be listed.
 */
export function readFdTable(table: FdTableRef, inodes: InodeCache, warnings: CaptureWarnings): FdRecord[] | null {
  let names: string[] | null = null;
  while (names === null) {
    try {
      names = listDir(`/proc/${table.holder}/fd`);
    } catch (e) {
      if (!(e instanceof ProcReadError) || e.failure !== 'gone') throw e;
      table.users = table.users.filter((u) => u !== table.holder);
      if (table.users.length === 0) return null;
      table.holder = table.users[0]!;
    }
  }
  const records: FdRecord[] = [];
  for (const name of names) {
    const r = readFd(table, table.holder, Number(name), inodes);
    if (r === null) warnings.vanishedFds++;
    else records.push(r);
  }
  return records;
}

/** One fd, or null when it was closed while being read. */
function readFd(table: FdTableRef, tid: number, fd: number, inodes: InodeCache): FdRecord | null {
  const record: FdRecord = { table, fd, cloexec: false, kind: null, type: 'unknown', info: null, mode: null, dev: null, rdev: null, unreadable: null };
  const link = attempt(() => readLink(`/proc/${tid}/fd/${fd}`));
  if (link instanceof ProcReadError) {
    if (link.failure === 'gone') return null;
    record.unreadable = link.reason;
    return record;
  }
  const kind = classifyLink(link);
  record.kind = kind;
  record.type = kind.type;
  const info = attempt(() => parseFdInfo(readText(`/proc/${tid}/fdinfo/${fd}`)));
  if (info instanceof ProcReadError) {
    if (info.failure === 'gone') return null;
    record.unreadable = info.reason;
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

/** Flags as the files table keeps them: without O_CLOEXEC, which belongs to the fd. */
export function fileFlags(info: FdInfo): number {
  return info.flags & ~O_CLOEXEC;
}
