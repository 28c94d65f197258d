/**
 * The kernel side of a FUSE mount, through koffi: /dev/fuse, mount(2) and umount2(2),
 * and reads of the device that wait a bounded time (so that a serving thread can stop
 * when asked, rather than sit in read(2) until a request comes).
 */
import { constants as osConstants } from 'node:os';
import koffi from 'koffi';
import { errnoName } from '../errno.js';

export const ERRNO = osConstants.errno;

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MNT_DETACH = 2;
const EPOLLIN = 0x1;
const EPOLLEXCLUSIVE = 1 << 28;
const EPOLL_CTL_ADD = 1;
const EPOLL_CLOEXEC = 0o2000000;

/** A system call that failed, with its errno's name (EPERM, EBUSY, ...). */
export class SyscallError extends Error {
  constructor(readonly call: string, readonly errno: string) {
    super(`${call} failed: ${errno}`);
  }
}

type Libc = {
  mount: (source: string, target: string, type: string, flags: number, data: string) => number;
  umount2: (target: string, flags: number) => number;
  read: (fd: number, buf: Buffer, count: number) => number;
  close: (fd: number) => number;
  epoll_create1: (flags: number) => number;
  epoll_ctl: (epfd: number, op: number, fd: number, event: Buffer) => number;
  epoll_wait: (epfd: number, events: Buffer, max: number, timeout: number) => number;
};

let libc: Libc | undefined;

function bind(): Libc {
  if (libc) return libc;
  const lib = koffi.load(null);
  libc = {
    mount: lib.func('int mount(const char *, const char *, const char *, unsigned long, const char *)') as Libc['mount'],
    umount2: lib.func('int umount2(const char *, int)') as Libc['umount2'],
    read: lib.func('long read(int, void *, unsigned long)') as Libc['read'],
    close: lib.func('int close(int)') as Libc['close'],
    epoll_create1: lib.func('int epoll_create1(int)') as Libc['epoll_create1'],
    epoll_ctl: lib.func('int epoll_ctl(int, int, int, void *)') as Libc['epoll_ctl'],
    epoll_wait: lib.func('int epoll_wait(int, void *, int, int)') as Libc['epoll_wait'],
  };
  return libc;
}

/**
 * Mounts the FUSE connection on fd at target, read-only. Without allow_other the kernel
 * lets only the user who mounts it (root) in: a store holds command lines and maybe
 * environments. Nobody else entering, permission bits need no checking
 * (default_permissions), which would cost a GETATTR of each folder on a path walk.
 */
export function mountFuse(fd: number, target: string, source: string): void {
  const opts = `fd=${fd},rootmode=40000,user_id=${process.getuid?.() ?? 0},group_id=${process.getgid?.() ?? 0}`;
  if (bind().mount(source, target, 'fuse.ckptdb', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) !== 0) {
    throw new SyscallError('mount', errnoName(koffi.errno()));
  }
}

/** Unmounts target; lazily (MNT_DETACH) leaves it to the kernel to finish once nothing uses it. */
export function unmountFuse(target: string, lazy: boolean): void {
  if (bind().umount2(target, lazy ? MNT_DETACH : 0) !== 0) throw new SyscallError('umount', errnoName(koffi.errno()));
}

export type DeviceRead = { bytes: number } | { errno: number };

/**
 * How one serving thread waits for requests: an epoll instance of its own watching
 * /dev/fuse with EPOLLEXCLUSIVE, so that a request wakes one waiting thread, not all.
 */
export class RequestReader {
  private readonly c = bind();
  private readonly epfd: number;
  private readonly events = Buffer.alloc(12);

  constructor(private readonly fd: number) {
    this.epfd = this.c.epoll_create1(EPOLL_CLOEXEC);
    if (this.epfd < 0) throw new SyscallError('epoll_create1', errnoName(koffi.errno()));
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN | EPOLLEXCLUSIVE, 0);
    if (this.c.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, ev) < 0) throw new SyscallError('epoll_ctl', errnoName(koffi.errno()));
  }

  /** One request into buf, waiting up to timeoutMs for it; { bytes: 0 } when none came. */
  read(buf: Buffer, timeoutMs: number): DeviceRead {
    for (let waited = false; ; waited = true) {
      const n = this.c.read(this.fd, buf, buf.length);
      if (n >= 0) return { bytes: n };
      const errno = koffi.errno();
      if (errno !== ERRNO.EAGAIN) return { errno };
      if (waited) return { bytes: 0 };
      if (this.c.epoll_wait(this.epfd, this.events, 1, timeoutMs) < 0 && koffi.errno() !== ERRNO.EINTR) return { errno: koffi.errno() };
    }
  }

  close(): void {
    this.c.close(this.epfd);
  }
}
