/**
 * Conversions between CRIU's numbers and the store's column values, both ways: what
 * import writes, export reads back and must turn into the same number.
 */
import { CkptdbError } from '../../errors.js';
import { ipAddressText } from '../../store/socketNames.js';

/** Signal masks as /proc shows them: 16 hex digits. */
export function sigsetHex(mask: bigint): string {
  return BigInt.asUintN(64, mask).toString(16).padStart(16, '0');
}

export function sigsetFromHex(text: string): bigint {
  return BigInt(`0x${text}`);
}

/** RLIMIT_* in kernel order: index i of task_rlimits_entry is resource i. */
export const RLIMITS = [
  'cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile',
  'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime',
] as const;

const RLIM_INFINITY = (1n << 64n) - 1n;

/**
 * A limit as the store keeps it: null is unlimited, bigint only where a number would
 * round, and from 2^63 on its two's complement (SQLite's INTEGER is signed).
 */
export function limitValue(v: bigint): number | bigint | null {
  if (v === RLIM_INFINITY) return null;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : BigInt.asIntN(64, v);
}

export function limitFromValue(v: number | bigint | null): bigint {
  return v === null ? RLIM_INFINITY : BigInt.asUintN(64, BigInt(v));
}

/**
 * task_core_entry.task_state (compel's task states): CRIU dumps a zombie as TASK_DEAD
 * (2); TASK_ZOMBIE (6) is its in-memory name for one. The store keeps the letters of
 * /proc/PID/stat where CRIU's state names one (Z, T); a live task is 'alive', as CRIU
 * does not record whether it was running or asleep.
 */
export const TASK_ALIVE = 1;
export const TASK_DEAD = 2;
const TASK_STOPPED = 3;
const TASK_ZOMBIE = 6;
const TASK_STATES: Record<number, string> = { [TASK_ALIVE]: 'alive', [TASK_DEAD]: 'Z', [TASK_STOPPED]: 'T', [TASK_ZOMBIE]: 'Z' };

export function taskStateName(n: number): string {
  return TASK_STATES[n] ?? String(n);
}

/**
 * The names CRIU imports were stored with before schema 5, each for the number it
 * was read from: stores carried forward keep them, and export them as they came.
 */
const OLD_TASK_STATES: Record<string, number> = { dead: TASK_DEAD, stopped: TASK_STOPPED, zombie: TASK_ZOMBIE };

/** The CRIU state of a store state: any /proc letter of a live task is alive. */
export function taskStateNumber(name: string): number | null {
  if (name === 'alive' || /^[RSDI]$/.test(name)) return TASK_ALIVE;
  if (name === 'Z') return TASK_DEAD;
  if (name === 'T' || name === 't') return TASK_STOPPED;
  if (Object.hasOwn(OLD_TASK_STATES, name)) return OLD_TASK_STATES[name]!;
  return /^\d+$/.test(name) ? Number(name) : null;
}

export function isZombieState(n: number): boolean {
  return n === TASK_DEAD || n === TASK_ZOMBIE;
}

/**
 * The signal of each of task_core_entry's sigactions: CRIU keeps one per signal from 1
 * to 64 but SIGKILL (9) and SIGSTOP (19), whose actions cannot change.
 */
export const SIGACTION_SIGNALS: readonly number[] = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => s !== 9 && s !== 19);

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;

/** 'rwxp' from a VMA's protection and flags, as /proc/PID/maps shows it. */
export function vmaPerms(prot: number, flags: number): string {
  return (
    (prot & PROT_READ ? 'r' : '-') +
    (prot & PROT_WRITE ? 'w' : '-') +
    (prot & PROT_EXEC ? 'x' : '-') +
    (flags & MAP_SHARED ? 's' : 'p')
  );
}

export function permsToProt(perms: string): number {
  return (perms[0] === 'r' ? PROT_READ : 0) | (perms[1] === 'w' ? PROT_WRITE : 0) | (perms[2] === 'x' ? PROT_EXEC : 0);
}

/** VMA status bits (criu/include/image.h). */
export const VMA = {
  REGULAR: 1 << 0,
  STACK: 1 << 1,
  VSYSCALL: 1 << 2,
  VDSO: 1 << 3,
  HEAP: 1 << 5,
  FILE_PRIVATE: 1 << 6,
  FILE_SHARED: 1 << 7,
  ANON_SHARED: 1 << 8,
  ANON_PRIVATE: 1 << 9,
  SYSVIPC: 1 << 10,
  SOCKET: 1 << 11,
  VVAR: 1 << 12,
  AIORING: 1 << 13,
  MEMFD: 1 << 14,
  /** A guard region (MADV_GUARD_INSTALL) inside another vma. */
  GUARD: 1 << 16,
} as const;

/** The name /proc/PID/maps gives a VMA that maps no file. */
export function specialVmaPath(status: number): string | null {
  if (status & VMA.STACK) return '[stack]';
  if (status & VMA.HEAP) return '[heap]';
  if (status & VMA.VDSO) return '[vdso]';
  if (status & VMA.VVAR) return '[vvar]';
  if (status & VMA.VSYSCALL) return '[vsyscall]';
  if (status & VMA.AIORING) return '/[aio]';
  if (status & VMA.ANON_SHARED) return '/dev/zero (deleted)';
  return null;
}

export const FD_CLOEXEC = 1;

/**
 * inet_sk_entry addresses: the in_addr / in6_addr bytes read as host-order (little-endian)
 * 32-bit words, one word for IPv4, four for IPv6.
 */
export function inetAddress(words: number[]): string | null {
  if (words.length !== 1 && words.length !== 4) return null;
  const bytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => bytes.writeUInt32LE(w >>> 0, i * 4));
  return ipAddressText(bytes);
}

export function inetWords(address: string): number[] | null {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
    const parts = address.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    return [Buffer.from(parts).readUInt32LE(0)];
  }
  let host: string;
  try {
    host = new URL(`http://[${address}]`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return [0, 4, 8, 12].map((i) => bytes.readUInt32LE(i));
}

/**
 * A unix socket's name as unix_sk_entry holds it: sun_path as the kernel reports it,
 * which for a path name ends in its NUL. The store keeps it as ss shows it
 * (socketNames.ts: unixAddressText); this is the way back, for export.
 */
export function unixNameBytes(text: string | null): Uint8Array {
  if (text === null || text === '') return new Uint8Array(0);
  if (text.startsWith('@')) return Buffer.concat([Buffer.from([0]), Buffer.from(text.slice(1), 'utf8')]);
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

/** CRIU keeps a packet socket's protocol as socket(2) takes it, in network byte order; x86-64 and arm64 images are little-endian. */
export function packetProtocol(networkOrder: number): number {
  return ((networkOrder & 0xff) << 8) | ((networkOrder >>> 8) & 0xff);
}

/** A device number in the kernel's own encoding (MKDEV: 12 bits major, 20 minor), as CRIU keeps an inode's s_dev. */
export function kernelDevText(dev: number): string {
  return `${dev >>> 20}:${dev & 0xfffff}`;
}

export function kernelDevNumber(text: string): number {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xfff || Number(m[2]) > 0xfffff) throw new CkptdbError('BAD_ARGUMENT', `${text} is not a device number major:minor that fits CRIU's 32 bits`);
  return ((Number(m[1]) << 20) | Number(m[2])) >>> 0;
}

/** A 32-bit dev_t as stat(2) gives it (glibc's encoding), as CRIU keeps a tty's devices. */
export function statDevText(dev: number): string {
  return `${(dev >>> 8) & 0xfff}:${(dev & 0xff) | ((dev >>> 12) & 0xfff00)}`;
}

/**
 * Values the kernel gives every file of a kind, which CRIU therefore does not keep: an
 * unseekable file's position never moves from 0, and pipes, sockets and anonymous
 * inodes are made with fixed modes (S_IFIFO|0600, S_IFSOCK|0777, 0600).
 */
export const PIPE_MODE = 0o010600;
export const SOCKET_MODE = 0o140777;
export const ANON_INODE_MODE = 0o600;
export const O_RDWR = 2;
