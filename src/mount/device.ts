/**
 * The kernel side of a FUSE mount, through koffi: /dev/fuse, mount(2) and umount2(2),
 * and a read of the device that does not block (so that a serving thread can stop
 * when asked, rather than sit in read(2) until a request comes).
 */
import { constants as osConstants } from 'node:os';
import koffi from 'koffi';

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
export const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;
export const ERRNO = osConstants.errno;

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MNT_DETACH = 2;
const POLLIN = 1;

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
  poll: (fds: Buffer, nfds: number, timeout: number) => number;
};

let libc: Libc | undefined;

function bind(): Libc {
  if (libc) return libc;
  const lib = koffi.load(null);
  libc = {
    mount: lib.func('int mount(const char *, const char *, const char *, unsigned long, const char *)') as Libc['mount'],
    umount2: lib.func('int umount2(const char *, int)') as Libc['umount2'],
    read: lib.func('long read(int, void *, unsigned long)') as Libc['read'],
    poll: lib.func('int poll(void *, unsigned long, int)') as Libc['poll'],
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
 * Reads one request from a non-blocking /dev/fuse, waiting up to timeoutMs for one to
 * come. { bytes: 0 } means none came in time.
 */
export function readRequest(fd: number, buf: Buffer, timeoutMs: number, pollfd: Buffer): DeviceRead {
  const c = bind();
  for (let waited = false; ; waited = true) {
    const n = c.read(fd, buf, buf.length);
    if (n >= 0) return { bytes: n };
    const errno = koffi.errno();
    if (errno !== ERRNO.EAGAIN) return { errno };
    if (waited) return { bytes: 0 };
    pollfd.writeInt32LE(fd, 0);
    pollfd.writeInt16LE(POLLIN, 4);
    pollfd.writeInt16LE(0, 6);
    if (c.poll(pollfd, 1, timeoutMs) < 0 && koffi.errno() !== ERRNO.EINTR) return { errno: koffi.errno() };
  }
}
