/**
 * The fds of one task as /proc shows them: link, fdinfo and the inode's mode and
 * devices. Through koffi the reads go relative to /proc/TID/fd and /proc/TID/fdinfo
 * held open (readlinkat, openat, statx): the kernel walks one path component per read
 * instead of four, which is most of what a read of /proc costs, and no read goes
 * through Node's fs layer. Without koffi, or where those directories cannot be
 * opened, the same reads go by path.
 */
import { statSync } from 'node:fs';
import koffi from 'koffi';
import { parseFdInfoBytes, type FdInfo } from './fdinfo.js';
import type { InodeFacts } from './fdRecords.js';
import { deviceText } from './numbers.js';
import { asReadError, ProcReadError, readLink, readParsed } from './procfs.js';

export interface FdDir {
  /** The link of the fd; throws ProcReadError. */
  readlink(fd: number): string;
  /** Its fdinfo; throws ProcReadError. */
  fdinfo(fd: number): FdInfo;
  /** Mode and devices of the inode it refers to; throws ProcReadError. */
  stat(fd: number): InodeFacts;
  close(): void;
}

type Syscalls = {
  open(path: string, flags: number): number;
  openat(dirfd: number, path: string, flags: number): number;
  readlinkat(dirfd: number, path: string, buf: Buffer, size: number): number;
  read(fd: number, buf: Buffer, size: number): number;
  close(fd: number): number;
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Buffer): number;
};

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const STATX_BASIC_STATS = 0x7ff;
/** Offsets in struct statx. */
const STX_MODE = 28;
const STX_RDEV_MAJOR = 128;
const STX_RDEV_MINOR = 132;
const STX_DEV_MAJOR = 136;
const STX_DEV_MINOR = 140;

const GONE = new Set([2, 3, 20]); // ENOENT, ESRCH, ENOTDIR
/** How Node words the errors a read of /proc may be denied with, as the paths' reads record them. */
const DENIED: Record<number, string> = { 1: 'EPERM: operation not permitted', 13: 'EACCES: permission denied' };

let syscalls: Syscalls | null | undefined;

function bind(): Syscalls | null {
  if (syscalls !== undefined) return syscalls;
  try {
    const libc = koffi.load(null);
    syscalls = {
      open: libc.func('int open(const char *, int)') as Syscalls['open'],
      openat: libc.func('int openat(int, const char *, int)') as Syscalls['openat'],
      readlinkat: libc.func('long readlinkat(int, const char *, _Out_ uint8_t *, unsigned long)') as Syscalls['readlinkat'],
      read: libc.func('long read(int, _Out_ uint8_t *, unsigned long)') as Syscalls['read'],
      close: libc.func('int close(int)') as Syscalls['close'],
      statx: libc.func('int statx(int, const char *, int, unsigned int, _Out_ uint8_t *)') as Syscalls['statx'],
    };
  } catch {
    syscalls = null;
  }
  return syscalls;
}

/** A failed call's errno as the error /proc reads throw. */
function failure(what: string): ProcReadError {
  const errno = koffi.errno();
  if (GONE.has(errno)) return new ProcReadError('gone', `errno ${errno}: ${what}`);
  const denied = DENIED[errno];
  if (denied) return new ProcReadError('denied', denied);
  throw new Error(`${what}: errno ${errno}`);
}

let buffer = Buffer.allocUnsafe(64 * 1024);
const statBuffer = Buffer.alloc(256);

/** The fds of task tid; the directories it reads through are open until close(). */
export function openFdDir(tid: number): FdDir {
  const sys = bind();
  if (sys) {
    const fdDir = sys.open(`/proc/${tid}/fd`, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fdDir >= 0) {
      const infoDir = sys.open(`/proc/${tid}/fdinfo`, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (infoDir >= 0) return new AtDir(sys, fdDir, infoDir);
      sys.close(fdDir);
    }
  }
  return new PathDir(tid);
}

class AtDir implements FdDir {
  constructor(
    private readonly sys: Syscalls,
    private readonly fdDir: number,
    private readonly infoDir: number,
  ) {}

  readlink(fd: number): string {
    const n = this.sys.readlinkat(this.fdDir, String(fd), buffer, buffer.length);
    if (n < 0) throw failure('readlink');
    return buffer.toString('utf8', 0, n);
  }

  fdinfo(fd: number): FdInfo {
    const f = this.sys.openat(this.infoDir, String(fd), O_RDONLY | O_CLOEXEC);
    if (f < 0) throw failure('open fdinfo');
    try {
      let length = 0;
      for (;;) {
        const room = buffer.length - length;
        const n = this.sys.read(f, length ? buffer.subarray(length) : buffer, room);
        if (n < 0) throw failure('read fdinfo');
        length += n;
        // fdinfo comes whole in the first read that has room for it
        if (n < room) break;
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      return parseFdInfoBytes(buffer, length);
    } finally {
      this.sys.close(f);
    }
  }

  stat(fd: number): InodeFacts {
    if (this.sys.statx(this.fdDir, String(fd), 0, STATX_BASIC_STATS, statBuffer) < 0) throw failure('statx');
    const rdevMajor = statBuffer.readUInt32LE(STX_RDEV_MAJOR);
    const rdevMinor = statBuffer.readUInt32LE(STX_RDEV_MINOR);
    return {
      mode: statBuffer.readUInt16LE(STX_MODE),
      dev: `${statBuffer.readUInt32LE(STX_DEV_MAJOR)}:${statBuffer.readUInt32LE(STX_DEV_MINOR)}`,
      rdev: rdevMajor || rdevMinor ? `${rdevMajor}:${rdevMinor}` : null,
    };
  }

  close(): void {
    this.sys.close(this.fdDir);
    this.sys.close(this.infoDir);
  }
}

class PathDir implements FdDir {
  constructor(private readonly tid: number) {}

  readlink(fd: number): string {
    return readLink(`/proc/${this.tid}/fd/${fd}`);
  }

  fdinfo(fd: number): FdInfo {
    return readParsed(`/proc/${this.tid}/fdinfo/${fd}`, parseFdInfoBytes);
  }

  stat(fd: number): InodeFacts {
    let st;
    try {
      st = statSync(`/proc/${this.tid}/fd/${fd}`, { throwIfNoEntry: false });
    } catch (e) {
      throw asReadError(e);
    }
    if (!st) throw new ProcReadError('gone', `no fd ${fd}`);
    return { mode: st.mode, dev: deviceText(st.dev), rdev: st.rdev ? deviceText(st.rdev) : null };
  }

  close(): void {}
}
