/**
 * /proc/PID/fdinfo/N: position, status flags (with O_CLOEXEC, which belongs to the fd),
 * mount id and inode of an open file, then lines that depend on what the file is
 * (eventfd counters, epoll targets, inotify watches, timers, locks).
 */
import { constants as fsc } from 'node:fs';

export interface FdInfo {
  /** Decimal text: a position can exceed 2^53. */
  pos: string;
  /** Octal in the file, a number here; includes O_CLOEXEC. */
  flags: number;
  mntId: number;
  /** Decimal text (u64). Empty on kernels older than 4.19, which do not print it. */
  ino: string;
  /** The type-specific lines after the common ones, or null. */
  extra: string | null;
}

/** Linux's O_CLOEXEC (generic and x86 alike); Node's fs.constants does not carry it. */
export const O_CLOEXEC = 0o2000000;
/** FASYNC, settable with fcntl like the flags in SETTABLE. */
const FASYNC = 0o20000;

/**
 * The status flags fcntl(F_SETFL) can change after open (the kernel's SETFL_MASK).
 * The other bits, the access mode among them, never change for the life of an open
 * file, so they are evidence that holds even while the tree runs.
 */
const SETTABLE = fsc.O_APPEND | fsc.O_NONBLOCK | (fsc.O_DIRECT ?? 0) | (fsc.O_NOATIME ?? 0) | FASYNC | O_CLOEXEC;

export function fixedFlags(flags: number): number {
  return flags & ~SETTABLE;
}

const NL = 10;
const COLON = 58;
const TAB = 9;
const SPACE = 32;

/** The value of a `key:\tvalue` line from its start (just past the colon), blanks trimmed. */
function valueOf(buf: Buffer, from: number, end: number): string {
  while (from < end && (buf[from] === TAB || buf[from] === SPACE)) from++;
  while (end > from && (buf[end - 1] === TAB || buf[end - 1] === SPACE)) end--;
  return buf.toString('latin1', from, end);
}

/** Whether the line at `at` is `key:`. */
function keyIs(buf: Buffer, at: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) if (buf[at + i] !== key.charCodeAt(i)) return false;
  return buf[at + key.length] === COLON;
}

/**
 * The fields of /proc/PID/fdinfo/N from the bytes read, without making a string of the
 * whole text: a capture reads it for every fd.
 */
export function parseFdInfoBytes(buf: Buffer, length: number): FdInfo {
  const info: FdInfo = { pos: '0', flags: 0, mntId: -1, ino: '', extra: null };
  let start = 0;
  while (start < length) {
    let end = buf.indexOf(NL, start);
    if (end < 0 || end > length) end = length;
    if (keyIs(buf, start, 'pos')) info.pos = valueOf(buf, start + 4, end);
    else if (keyIs(buf, start, 'flags')) info.flags = parseInt(valueOf(buf, start + 6, end), 8);
    else if (keyIs(buf, start, 'mnt_id')) info.mntId = Number(valueOf(buf, start + 7, end));
    else if (keyIs(buf, start, 'ino')) info.ino = valueOf(buf, start + 4, end);
    else {
      info.extra = buf.toString('latin1', start, length).trimEnd() || null;
      break;
    }
    start = end + 1;
  }
  return info;
}

/** Lines that list several things (epoll targets, inotify watches, ...), by first word. */
const LISTS: Record<string, string> = { tfd: 'targets', inotify: 'watches', fanotify: 'marks', lock: 'locks' };

/**
 * The type-specific lines as attrs: `key: value` lines become fields; epoll targets,
 * inotify and fanotify watches and file locks become lists. Values stay the kernel's
 * text: some are hex without a prefix (eventfd-count, epoll events, inotify masks).
 */
export function parseExtra(extra: string): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  for (const line of extra.split('\n')) {
    const word = /^([A-Za-z_-]+)/.exec(line)?.[1] ?? '';
    const list = LISTS[word];
    if (list === 'locks') {
      push(attrs, list, line.slice(line.indexOf(':') + 1).trim());
    } else if (list) {
      const entry: Record<string, string> = {};
      for (const m of line.matchAll(/([\w-]+):\s*(\S+)/g)) entry[m[1]!] = m[2]!;
      push(attrs, list, entry);
    } else {
      const colon = line.indexOf(':');
      if (colon > 0) attrs[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  return attrs;
}

function push(attrs: Record<string, unknown>, key: string, value: unknown): void {
  const list = (attrs[key] ??= []) as unknown[];
  list.push(value);
}
