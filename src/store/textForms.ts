/**
 * The text forms of the numbers and letters the store keeps, one vocabulary for every
 * place that prints them (fds, the canned queries, diff, show, graph) and for the SQL
 * functions of the same names that ckptdb registers on its connections
 * (migrations/0009_text_forms.sql documents each output exactly). The stored values
 * stay as the kernel gave them; these only read them.
 *
 * Every function takes what a column holds (a number, a bigint, text or null) and
 * returns null for null, or for anything else that is not such a value, so a missing
 * value stays missing and never reads as a word.
 */

type Stored = unknown;

/**
 * Open flags (include/uapi/asm-generic/fcntl.h, as on x86-64) in the order they are
 * printed, by their highest bit. O_SYNC is __O_SYNC|O_DSYNC and O_TMPFILE
 * __O_TMPFILE|O_DIRECTORY: matching from the end of the list takes them before the
 * single bits they contain.
 */
const OPEN_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['O_CREAT', 0o100],
  ['O_EXCL', 0o200],
  ['O_NOCTTY', 0o400],
  ['O_TRUNC', 0o1000],
  ['O_APPEND', 0o2000],
  ['O_NONBLOCK', 0o4000],
  ['O_DSYNC', 0o10000],
  ['O_ASYNC', 0o20000],
  ['O_DIRECT', 0o40000],
  ['O_LARGEFILE', 0o100000],
  ['O_DIRECTORY', 0o200000],
  ['O_NOFOLLOW', 0o400000],
  ['O_NOATIME', 0o1000000],
  ['O_CLOEXEC', 0o2000000],
  ['O_SYNC', 0o4010000],
  ['O_PATH', 0o10000000],
  ['O_TMPFILE', 0o20200000],
];

const ACCESS = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'] as const;

const O_PATH = 0o10000000;

function integer(v: Stored): number | null {
  if (typeof v === 'string' ? !/^\d+$/.test(v) : typeof v !== 'number' && typeof v !== 'bigint') return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Open flags as `O_*` names joined by `|`, as strace prints them: the access mode
 * first (O_RDONLY, O_WRONLY, O_RDWR), then the set flags from the lowest bit up. Bits
 * without a name (the kernel's internal FMODE_* bits) follow as one octal number:
 * `O_RDONLY|040`.
 */
export function flagsText(flags: Stored): string | null {
  const n = integer(flags);
  if (n === null) return null;
  let rest = Math.floor(n / 4) * 4;
  const set: boolean[] = [];
  for (let i = OPEN_FLAGS.length - 1; i >= 0; i--) {
    const bits = OPEN_FLAGS[i]![1];
    set[i] = and(rest, bits) === bits;
    if (set[i]) rest -= bits;
  }
  const names = [ACCESS[n & 3]!, ...OPEN_FLAGS.filter((_f, i) => set[i]).map(([name]) => name)];
  if (rest !== 0) names.push(`0${rest.toString(8)}`);
  return names.join('|');
}

/** a & b for non-negative integers beyond 32 bits. */
function and(a: number, b: number): number {
  const hi = (x: number) => Math.floor(x / 2 ** 32);
  return (hi(a) & hi(b)) * 2 ** 32 + (((a >>> 0) & (b >>> 0)) >>> 0);
}

/** st_mode's file type letter as `ls -l` prints it; `?` for none (an anonymous inode). */
const TYPE_LETTERS: Record<number, string> = {
  0o140000: 's', 0o120000: 'l', 0o100000: '-', 0o060000: 'b', 0o040000: 'd', 0o020000: 'c', 0o010000: 'p',
};

/**
 * st_mode as `ls -l` and `stat -c %A` print it: the type letter, then rwx for owner,
 * group and others, with s/S for set-uid and set-gid and t/T for sticky.
 */
export function modeText(mode: Stored): string | null {
  const m = integer(mode);
  if (m === null) return null;
  const type = TYPE_LETTERS[m & 0o170000] ?? '?';
  const triad = (shift: number, special: number, on: string, off: string) => {
    const bits = (m >> shift) & 7;
    const x = bits & 1 ? (m & special ? on : 'x') : m & special ? off : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${x}`;
  };
  return type + triad(6, 0o4000, 's', 'S') + triad(3, 0o2000, 's', 'S') + triad(0, 0o1000, 't', 'T');
}

/**
 * lsof's FD column: the fd number and its access, r (read), w (write) or u (both).
 * lsof reads the access from the permission bits of /proc/PID/fd/N, which show
 * neither read nor write for an O_PATH file or access mode 3, and calls that u.
 */
export function fdText(fd: Stored, flags: Stored): string | null {
  const n = integer(fd);
  if (n === null) return null;
  const f = integer(flags);
  if (f === null) return String(n);
  if (and(f, O_PATH) !== 0) return `${n}u`;
  return `${n}${['r', 'w', 'u', 'u'][f & 3]}`;
}


/** lsof's TYPE of a socket by its address family (the sockets table's words). */
const SOCKET_TYPES: Record<string, string> = { unix: 'unix', inet: 'IPv4', inet6: 'IPv6', netlink: 'netlink', packet: 'pack' };

/** lsof's TYPE by the file type bits of st_mode. */
const MODE_TYPES: Record<number, string> = {
  0o100000: 'REG', 0o040000: 'DIR', 0o020000: 'CHR', 0o060000: 'BLK', 0o010000: 'FIFO', 0o120000: 'LINK', 0o000000: 'a_inode',
};

/** lsof's TYPE by the files table's type, where no mode was recorded. */
const FILE_TYPES: Record<string, string> = {
  reg: 'REG', memfd: 'REG', dir: 'DIR', chr: 'CHR', blk: 'BLK', fifo: 'FIFO', pipe: 'FIFO',
  eventfd: 'a_inode', epoll: 'a_inode', timerfd: 'a_inode', signalfd: 'a_inode', inotify: 'a_inode', fanotify: 'a_inode', anon: 'a_inode',
};

/**
 * lsof's TYPE column: REG, DIR, CHR, BLK, FIFO, LINK; a_inode for an anonymous inode
 * (eventfd, epoll, timerfd, signalfd, inotify, pidfd, ...); for a socket its family:
 * unix, IPv4, IPv6, netlink, pack, or sock when the family is not known. Decided by
 * st_mode where it was recorded, else by the file's type; unknown when neither says.
 */
export function typeText(type: Stored, mode: Stored, family: Stored): string | null {
  const m = integer(mode);
  const t = typeof type === 'string' ? type : null;
  if (m === null && t === null) return null;
  if ((m !== null && (m & 0o170000) === 0o140000) || (m === null && t === 'socket')) {
    return (typeof family === 'string' && SOCKET_TYPES[family]) || 'sock';
  }
  if (m !== null) return MODE_TYPES[m & 0o170000] ?? 'unknown';
  return FILE_TYPES[t!] ?? 'unknown';
}

/** Signal names by number as bash's `kill -l` prints them; 32 and 33 belong to the C library and have none there. */
function signalName(n: number): string {
  const classic = [
    '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV',
    'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN',
    'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
  ];
  if (n < classic.length) return classic[n]!;
  if (n < 34) return `SIG${n}`;
  if (n === 34) return 'SIGRTMIN';
  if (n <= 49) return `SIGRTMIN+${n - 34}`;
  if (n === 64) return 'SIGRTMAX';
  return `SIGRTMAX-${64 - n}`;
}

/**
 * A signal mask (16 hex digits, as /proc/PID/status prints SigBlk and the others) as
 * the names of its signals, lowest number first, joined by `,`: `SIGINT,SIGTERM`. An
 * empty mask is the empty string. Text that is not hex is returned null.
 */
export function signalsText(mask: Stored): string | null {
  if (typeof mask !== 'string') return null;
  const hex = mask;
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return null;
  let bits = BigInt(`0x${hex}`);
  const names: string[] = [];
  for (let n = 1; bits !== 0n; n++, bits >>= 1n) if (bits & 1n) names.push(signalName(n));
  return names.join(',');
}

/** A task's state letter as /proc/PID/status words it (fs/proc/array.c). */
const STATE_WORDS: Record<string, string> = {
  R: 'running', S: 'sleeping', D: 'disk sleep', T: 'stopped', t: 'tracing stop', X: 'dead', Z: 'zombie', P: 'parked', I: 'idle',
};

/** A task's state letter (R, S, D, T, t, X, Z, P, I) as a word; an unknown letter is returned as it is. */
export function stateText(state: Stored): string | null {
  if (typeof state !== 'string') return null;
  return STATE_WORDS[state] ?? state;
}

/** Each text form by the name of its SQL function. */
export const TEXT_FUNCTIONS = {
  flags_text: flagsText,
  mode_text: modeText,
  fd_text: fdText,
  type_text: typeText,
  signals_text: signalsText,
  state_text: stateText,
} as const;

export type TextFunctionName = keyof typeof TEXT_FUNCTIONS;
