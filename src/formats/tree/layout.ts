/**
 * The directory tree of the 2008 proposal (shared/reference/), as ckptdb writes it:
 *
 *   checkpoint-ID/                      the checkpoint's fields, one file each
 *     objects/K/{kind,key,refcount,inferred,attrs}       shared object K (image id)
 *     objects/K/socket/{family,type,...}                 a socket's details
 *     objects/K/fds/N/{fd_nr,coe,fd}                     slot N of fd table K; fd = a files/ id
 *     objects/K/maps/START/{end,perms,pgoff,...}         a mapping of address space K
 *     files/K/{fd_type,target,f_pos,f_mode,f_flags,...}  open file K
 *     files/K/{eventfd,timerfd,signalfd,tty}/...          the details of an anonymous file K
 *     files/K/epoll/SEQ/..., files/K/inotify/WD/...      an epoll's targets, an inotify's watches
 *     task-PID/{tgid,ppid,comm,...,mm,fdtable,...}       a task; mm, fdtable, ... are object ids
 *     task-PID/ns/TYPE, task-PID/rlimits/RES/{soft,hard}
 *     task-PID/fds -> ../objects/K/fds, task-PID/maps -> ../objects/K/maps
 *     criu/chunks/C                                      for a CRIU checkpoint: chunk C of its files, the bytes as they are
 *     criu/images/NAME/{kind,role,head_magic,size,entries,chunks}   a file CRIU wrote; chunks = chunk ids
 *     done                                               written last: the tree is whole
 *
 * One value a file, its text exactly (no trailing newline): integers in decimal,
 * booleans 0 / 1, JSON for lists and objects. A null value is a missing file. Ids are
 * the image's (see ../image/types.ts), so objects and files share one numbering 1..N.
 * The kernel's f_version is not captured, so files/K has no f_version.
 *
 * CRIU's files travel as in the image: each chunk once, a file as the list of its
 * chunks. A chunk file holds bytes, not text; NAME is the file's name (its path in a
 * container archive) percent-encoded as encodeURIComponent does, so a / stays in the name.
 */

export type ValueKind = 'string' | 'int' | 'int64' | 'bool' | 'json';

export interface TreeField {
  /** The record field (../image/types.ts). */
  key: string;
  /** The file that holds it. */
  file: string;
  kind: ValueKind;
  /** The file must be there (the value cannot be null). */
  required?: boolean;
}

const f = (key: string, file: string, kind: ValueKind, required = false): TreeField => ({ key, file, kind, required });

export const TREE_FORMAT = 'ckptdb-tree';
export const TREE_VERSION = 1;
export const DONE = 'done';

export const CHECKPOINT_FIELDS: readonly TreeField[] = [
  f('label', 'label', 'string'),
  f('source', 'source', 'string', true),
  f('host', 'host', 'string'),
  f('kernel', 'kernel', 'string'),
  f('rootPid', 'root_pid', 'int'),
  f('frozen', 'frozen', 'bool', true),
  f('startedAt', 'started_at', 'string', true),
  f('finishedAt', 'finished_at', 'string', true),
  f('meta', 'meta', 'json'),
];

export const OBJECT_FIELDS: readonly TreeField[] = [
  f('kind', 'kind', 'string', true),
  f('key', 'key', 'string', true),
  f('refcount', 'refcount', 'int', true),
  f('inferred', 'inferred', 'bool', true),
  f('attrs', 'attrs', 'json'),
];

export const SOCKET_FIELDS: readonly TreeField[] = [
  f('family', 'family', 'string'),
  f('type', 'type', 'string'),
  f('protocol', 'protocol', 'string'),
  f('state', 'state', 'string'),
  f('localAddr', 'local_addr', 'string'),
  f('localPort', 'local_port', 'int'),
  f('remoteAddr', 'remote_addr', 'string'),
  f('remotePort', 'remote_port', 'int'),
  f('peerIno', 'peer_ino', 'int64'),
  f('attrs', 'attrs', 'json'),
];

export const FILE_FIELDS: readonly TreeField[] = [
  f('key', 'key', 'string', true),
  f('refcount', 'refcount', 'int', true),
  f('inferred', 'inferred', 'bool', true),
  f('type', 'fd_type', 'string', true),
  f('path', 'target', 'string'),
  f('pos', 'f_pos', 'int64'),
  f('flags', 'f_flags', 'int'),
  f('mode', 'f_mode', 'int'),
  f('mntId', 'mnt_id', 'int'),
  f('dev', 'dev', 'string'),
  f('inode', 'inode', 'int64'),
  f('deleted', 'deleted', 'bool', true),
  f('object', 'object', 'int'),
  f('unreadable', 'unreadable', 'string'),
  f('attrs', 'attrs', 'json'),
];

export const TASK_FIELDS: readonly TreeField[] = [
  f('tgid', 'tgid', 'int', true),
  f('ppid', 'ppid', 'int'),
  f('pgid', 'pgid', 'int'),
  f('sid', 'sid', 'int'),
  f('state', 'state', 'string'),
  f('comm', 'comm', 'string'),
  f('uid', 'uid', 'int'),
  f('euid', 'euid', 'int'),
  f('suid', 'suid', 'int'),
  f('fsuid', 'fsuid', 'int'),
  f('gid', 'gid', 'int'),
  f('egid', 'egid', 'int'),
  f('sgid', 'sgid', 'int'),
  f('fsgid', 'fsgid', 'int'),
  f('cmdline', 'cmdline', 'json'),
  f('exe', 'exe', 'string'),
  f('cwd', 'cwd', 'string'),
  f('root', 'root', 'string'),
  f('startTime', 'start_time', 'int64'),
  f('sigPending', 'sig_pending', 'string'),
  f('sigBlocked', 'sig_blocked', 'string'),
  f('sigIgnored', 'sig_ignored', 'string'),
  f('sigCaught', 'sig_caught', 'string'),
  f('env', 'env', 'json'),
  f('mm', 'mm', 'int'),
  f('fdtable', 'fdtable', 'int'),
  f('fs', 'fs', 'int'),
  f('sighand', 'sighand', 'int'),
  f('unreadable', 'unreadable', 'json'),
  f('attrs', 'attrs', 'json'),
];

export const FD_FIELDS: readonly TreeField[] = [
  f('fd', 'fd_nr', 'int', true),
  f('cloexec', 'coe', 'bool', true),
  f('file', 'fd', 'int', true),
];

export const MAP_FIELDS: readonly TreeField[] = [
  f('end', 'end', 'string', true),
  f('perms', 'perms', 'string', true),
  f('pgoff', 'pgoff', 'int64'),
  f('dev', 'dev', 'string'),
  f('inode', 'inode', 'int64'),
  f('path', 'path', 'string'),
  f('attrs', 'attrs', 'json'),
];

export const CRIU_IMAGE_FIELDS: readonly TreeField[] = [
  f('kind', 'kind', 'string'),
  f('role', 'role', 'string', true),
  f('headMagic', 'head_magic', 'int'),
  f('size', 'size', 'int', true),
  f('entries', 'entries', 'int'),
  f('chunks', 'chunks', 'json', true),
];

export const EVENTFD_FIELDS: readonly TreeField[] = [f('counter', 'counter', 'int64', true)];

/** files/K/epoll/SEQ: the directory is the target's seq. */
export const EPOLL_TARGET_FIELDS: readonly TreeField[] = [
  f('tfd', 'tfd', 'int', true),
  f('events', 'events', 'int', true),
  f('data', 'data', 'int64', true),
  f('inode', 'inode', 'int64'),
  f('dev', 'dev', 'string'),
  f('pos', 'pos', 'int64'),
];

/** files/K/inotify/WD: the directory is the watch descriptor. */
export const INOTIFY_WATCH_FIELDS: readonly TreeField[] = [
  f('inode', 'inode', 'int64', true),
  f('dev', 'dev', 'string'),
  f('mask', 'mask', 'int', true),
  f('ignoredMask', 'ignored_mask', 'int', true),
];

export const TIMERFD_FIELDS: readonly TreeField[] = [
  f('clockid', 'clockid', 'int', true),
  f('ticks', 'ticks', 'int64', true),
  f('settimeFlags', 'settime_flags', 'int', true),
  f('intervalNs', 'interval_ns', 'int64', true),
  f('valueNs', 'value_ns', 'int64', true),
];

export const SIGNALFD_FIELDS: readonly TreeField[] = [f('sigmask', 'sigmask', 'string', true)];

export const TTY_FIELDS: readonly TreeField[] = [
  f('kind', 'kind', 'string', true),
  f('index', 'index', 'int'),
  f('role', 'role', 'string'),
  f('rdev', 'rdev', 'string'),
  f('peer', 'peer', 'int'),
];

/** The directory under files/K of each detail record, and whether it holds one record a name (seq, wd). */
export const DETAIL_DIRS = {
  eventfd: { dir: 'eventfd', fields: EVENTFD_FIELDS, keyed: null },
  epollTarget: { dir: 'epoll', fields: EPOLL_TARGET_FIELDS, keyed: 'seq' },
  inotifyWatch: { dir: 'inotify', fields: INOTIFY_WATCH_FIELDS, keyed: 'wd' },
  timerfd: { dir: 'timerfd', fields: TIMERFD_FIELDS, keyed: null },
  signalfd: { dir: 'signalfd', fields: SIGNALFD_FIELDS, keyed: null },
  tty: { dir: 'tty', fields: TTY_FIELDS, keyed: null },
} as const;

export type DetailType = keyof typeof DETAIL_DIRS;

export const CRIU_DIR = 'criu';

export const RLIMIT_FIELDS: readonly TreeField[] = [f('soft', 'soft', 'int64'), f('hard', 'hard', 'int64')];

/** A value as the text of its file; undefined for null (no file). */
export function valueText(value: unknown, kind: ValueKind): string | undefined {
  if (value === null || value === undefined) return undefined;
  switch (kind) {
    case 'bool':
      return value ? '1' : '0';
    case 'json':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

/** The text of a file as a value, or an error phrase. */
export function parseValue(text: string, kind: ValueKind): { value: unknown } | { error: string } {
  switch (kind) {
    case 'string':
    case 'int64':
      return { value: text };
    case 'int': {
      if (!/^-?(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) return { error: `${JSON.stringify(truncate(text))} is not an integer` };
      return { value: Number(text) };
    }
    case 'bool':
      if (text === '0' || text === '1') return { value: text === '1' };
      return { error: `${JSON.stringify(truncate(text))} is not 0 or 1` };
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch (e) {
        return { error: `malformed JSON: ${(e as Error).message}` };
      }
  }
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
