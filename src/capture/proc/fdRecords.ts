/**
 * The fds of one fd table as /proc shows them, read through one task that uses it:
 * per fd its link, fdinfo and (once per inode) the inode's mode and device. Records are
 * flat: STRIDE values per fd in one array per table, so that a table crosses between
 * threads as one array of primitives, and nothing is allocated per fd but its strings.
 */
import type { FileType } from '../../store/writer/types.js';
import { openFdDir, type FdDir } from './fdDir.js';
import { fixedFlags, O_CLOEXEC, type FdInfo } from './fdinfo.js';
import { classifyLink, typeFromMode } from './fileKind.js';
import { asReadError, listDir, ProcReadError, taskExists } from './procfs.js';

/** The slots of one fd's record. */
export const R_FD = 0;
/** 1 when close-on-exec is set. */
export const R_CLOEXEC = 1;
/** Evidence that sharing implies (see bucketKey); null when neither link nor fdinfo could be read. */
export const R_BUCKET = 2;
export const R_TYPE = 3;
/** The path, or the link text for objects without one ('pipe:[4711]'). */
export const R_PATH = 4;
export const R_DELETED = 5;
/** The object the file stands on: 'pipe' | 'socket' | 'inode' | null. */
export const R_OBJECT = 6;
/** Decimal text: a position can exceed 2^53. */
export const R_POS = 7;
/** Status flags without O_CLOEXEC. */
export const R_FLAGS = 8;
export const R_MNT = 9;
/** Decimal text (u64); empty on kernels that do not print it. */
export const R_INO = 10;
export const R_MODE = 11;
export const R_DEV = 12;
export const R_RDEV = 13;
export const R_UNREADABLE = 14;
/** The type-specific lines of fdinfo, or null. */
export const R_EXTRA = 15;
export const STRIDE = 16;

/** An fd table as its readers track it. */
export interface TableState {
  /** The lowest tid using the table when it was found: names its fds' files. */
  name: number;
  /** The task its fds are read and compared through; moved to another user of the table if it exits. */
  holder: number;
  /** The tasks using the table, in tid order. */
  users: number[];
  /** Whether kcmp may be asked about its tasks. */
  kcmpable: boolean;
}

export interface InodeFacts {
  mode: number;
  dev: string;
  /** The device a character or block special file stands for. */
  rdev: string | null;
}

/**
 * Mode and device per inode (mount id and inode number): one stat for the many fds on
 * /dev/null. Bounded: emptied when full (the inodes many fds share come again soon).
 */
export type InodeCache = Map<string, InodeFacts>;
const INODE_CACHE_SIZE = 4096;

/** The task the table is read through exited: read through the next user. False when none is left. */
export function nextHolder(table: TableState): boolean {
  table.users = table.users.filter((u) => u !== table.holder);
  if (table.users.length === 0) return false;
  table.holder = table.users[0]!;
  return true;
}

/**
 * The table's fd numbers, in order, or null when every user has exited; throws
 * ProcReadError 'denied' when the fd directory cannot be listed.
 */
export function listFdTable(table: TableState): number[] | null {
  for (;;) {
    try {
      const names = listDir(`/proc/${table.holder}/fd`);
      const fds = new Array<number>(names.length);
      for (let i = 0; i < names.length; i++) fds[i] = Number(names[i]);
      return fds.sort((a, b) => a - b);
    } catch (e) {
      if (!(e instanceof ProcReadError) || e.failure !== 'gone') throw e;
      if (!nextHolder(table)) return null;
    }
  }
}

/** Fields of fdinfo that name the object itself and never change: a sharper bucket. */
const OWN_ID: Partial<Record<string, RegExp>> = {
  eventfd: /^eventfd-id:\s*(\S+)/m,
  timerfd: /^clockid:\s*(\S+)/m,
  anon: /^Pid:\s*(\S+)/m,
};

/**
 * What an open file never changes while it lives: mount, inode, the flags fcntl cannot
 * set, type, and for some anon files their own id. Fds of one open file always agree
 * on it, so fds that differ in it need no kcmp call.
 */
function bucketKey(type: FileType, mntId: number, ino: string, flags: number, extra: string | null): string {
  const own = OWN_ID[type];
  const id = own && extra ? (own.exec(extra)?.[1] ?? '') : '';
  return `${mntId}|${ino}|${fixedFlags(flags)}|${type}|${id}`;
}

export interface TableRead {
  /** STRIDE values per fd read, in fd order. */
  records: unknown[];
  /** Fds closed (or whose tasks all exited) while being read. */
  vanished: number;
}

/** Reads every listed fd of one table. */
export function readTable(table: TableState, fds: readonly number[], inodes: InodeCache): TableRead {
  const records: unknown[] = [];
  let vanished = 0;
  let holder = table.holder;
  let dir = openFdDir(holder);
  try {
    for (const fd of fds) {
      for (;;) {
        if (table.holder !== holder) {
          dir.close();
          holder = table.holder;
          dir = openFdDir(holder);
        }
        if (readOnce(dir, fd, inodes, records)) break;
        // a read that found nothing: the fd was closed, or the task it was read through exited
        if (taskExists(table.holder) || !nextHolder(table)) {
          vanished++;
          break;
        }
      }
    }
  } finally {
    dir.close();
  }
  return { records, vanished };
}

/** Appends the fd's record; false when it is gone (nothing appended). */
function readOnce(dir: FdDir, fd: number, inodes: InodeCache, out: unknown[]): boolean {
  let link: string;
  try {
    link = dir.readlink(fd);
  } catch (e) {
    const err = asReadError(e);
    if (err.failure === 'gone') return false;
    push(out, fd, 0, null, 'unknown', null, false, null, null, null, null, '', null, null, null, err.reason, null);
    return true;
  }
  const kind = classifyLink(link);
  let info: FdInfo;
  try {
    info = dir.fdinfo(fd);
  } catch (e) {
    const err = asReadError(e);
    if (err.failure === 'gone') return false;
    push(out, fd, 0, null, kind.type, kind.path, kind.deleted, kind.object, null, null, null, '', null, null, null, err.reason, null);
    return true;
  }
  let type = kind.type;
  const cacheKey = info.ino ? `${info.mntId}:${info.ino}` : null;
  let facts = cacheKey ? inodes.get(cacheKey) : undefined;
  let unreadable: string | null = null;
  if (!facts) {
    try {
      facts = dir.stat(fd);
      if (cacheKey) {
        if (inodes.size === INODE_CACHE_SIZE) inodes.clear();
        inodes.set(cacheKey, facts);
      }
    } catch (e) {
      const err = asReadError(e);
      if (err.failure === 'gone') return false;
      unreadable = err.reason;
    }
  }
  if (facts && kind.needsMode) type = typeFromMode(kind, facts.mode);
  const flags = info.flags & ~O_CLOEXEC;
  push(
    out, fd, (info.flags & O_CLOEXEC) !== 0 ? 1 : 0, bucketKey(type, info.mntId, info.ino, info.flags, info.extra), type, kind.path, kind.deleted,
    kind.object, info.pos, flags, info.mntId, info.ino, facts?.mode ?? null, facts?.dev ?? null, facts?.rdev ?? null, unreadable, info.extra,
  );
  return true;
}

function push(
  out: unknown[], fd: number, cloexec: number, bucket: string | null, type: FileType, path: string | null, deleted: boolean,
  object: string | null, pos: string | null, flags: number | null, mntId: number | null, ino: string, mode: number | null,
  dev: string | null, rdev: string | null, unreadable: string | null, extra: string | null,
): void {
  out.push(fd, cloexec, bucket, type, path, deleted, object, pos, flags, mntId, ino, mode, dev, rdev, unreadable, extra);
}
