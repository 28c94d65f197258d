/**
 * CRIU's image kinds: the magic number each image file carries (criu/include/magic.h)
 * and how its entries are laid out (lib/pycriu/images/images.py).
 *
 * An image file is `[head magic] magic { u32 size, message[size], extra }`. The head
 * magic is IMG_COMMON, or IMG_SERVICE for the stats and irmap-cache files; inventory.img
 * and images of format v1 have none. Raw images (pages, ip and iptables dumps, tmpfs
 * tarballs) have no magic at all and are known by their file name only.
 */

export const IMG_COMMON = 0x54564319;
export const IMG_SERVICE = 0x55105940;

/** inventory img_version values CRIU writes: v1 (no head magic) and v1.1. */
export const IMAGES_V1 = 1;
export const IMAGES_V1_1 = 2;

/** What follows the fixed entries of an image, beyond `{ size, message }`. */
export type Layout =
  /** Entries only. */
  | 'entries'
  /** A pagemap_head, then pagemap_entry entries. */
  | 'pagemap'
  /** A ghost_file_entry, then either ghost_chunk_entry + bytes, or the raw file. */
  | 'ghost'
  /** Each entry is followed by bytes whose length its message gives. */
  | 'pipe_data'
  | 'sk_queue'
  | 'tcp_stream'
  | 'bpfmap_data'
  | 'ipc_shm'
  | 'ipc_sem'
  | 'ipc_msg';

export interface ImageKind {
  name: string;
  magic: number;
  layout: Layout;
}

const KINDS: [string, number, Layout?][] = [
  ['INVENTORY', 0x58313116],
  ['PSTREE', 0x50273030],
  ['FDINFO', 0x56213732],
  ['PAGEMAP', 0x56084025, 'pagemap'],
  ['CORE', 0x55053847],
  ['IDS', 0x54432030],
  ['VMAS', 0x54123737],
  ['PIPES', 0x56513555],
  ['PIPES_DATA', 0x56453709, 'pipe_data'],
  ['FIFO', 0x58364939],
  ['FIFO_DATA', 0x59333054, 'pipe_data'],
  ['SIGACT', 0x55344201],
  ['UNIXSK', 0x54373943],
  ['INETSK', 0x56443851],
  ['PACKETSK', 0x60454618],
  ['ITIMERS', 0x57464056],
  ['POSIX_TIMERS', 0x52603957],
  ['SK_QUEUES', 0x56264026, 'sk_queue'],
  ['UTSNS', 0x54473203],
  ['CREDS', 0x54023547],
  ['IPC_VAR', 0x53115007],
  ['IPCNS_SHM', 0x46283044, 'ipc_shm'],
  ['IPCNS_MSG', 0x55453737, 'ipc_msg'],
  ['IPCNS_SEM', 0x59573019, 'ipc_sem'],
  ['REG_FILES', 0x50363636],
  ['EXT_FILES', 0x59255641],
  ['FS', 0x51403912],
  ['MM', 0x57492820],
  ['REMAP_FPATH', 0x59133954],
  ['GHOST_FILE', 0x52583605, 'ghost'],
  ['TCP_STREAM', 0x51465506, 'tcp_stream'],
  ['EVENTFD_FILE', 0x44523722],
  ['EVENTPOLL_FILE', 0x45023858],
  ['EVENTPOLL_TFD', 0x44433746],
  ['SIGNALFD', 0x57323820],
  ['INOTIFY_FILE', 0x48424431],
  ['INOTIFY_WD', 0x54562009],
  ['MNTS', 0x55563928],
  ['NETDEV', 0x57373951],
  ['NETNS', 0x55933752],
  ['TTY_FILES', 0x59433025],
  ['TTY_INFO', 0x59453036],
  ['TTY_DATA', 0x59413026],
  ['FILE_LOCKS', 0x54323616],
  ['RLIMIT', 0x57113925],
  ['FANOTIFY_FILE', 0x55096122],
  ['FANOTIFY_MARK', 0x56506035],
  ['SIGNAL', 0x59255647],
  ['NETLINK_SK', 0x58005614],
  ['NS_FILES', 0x61394011],
  ['TUNFILE', 0x57143751],
  ['CGROUP', 0x59383330],
  ['TIMERFD', 0x50493712],
  ['CPUINFO', 0x61404013],
  ['USERNS', 0x55474906],
  ['SECCOMP', 0x64413049],
  ['BINFMT_MISC', 0x67343323],
  ['AUTOFS', 0x49353943],
  ['FILES', 0x56303138],
  ['MEMFD_INODE', 0x48453499],
  ['TIMENS', 0x43114433],
  ['PIDNS', 0x61157326],
  ['BPFMAP_FILE', 0x57506142],
  ['BPFMAP_DATA', 0x64324033, 'bpfmap_data'],
  ['APPARMOR', 0x59423047],
  ['STATS', 0x57093306],
  ['IRMAP_CACHE', 0x57004059],
];

export const KIND_BY_MAGIC: ReadonlyMap<number, ImageKind> = new Map(
  KINDS.map(([name, magic, layout]) => [magic, { name, magic, layout: layout ?? 'entries' }]),
);
const KIND_BY_NAME: ReadonlyMap<string, ImageKind> = new Map([...KIND_BY_MAGIC.values()].map((k) => [k.name, k]));

export function kindNamed(name: string): ImageKind {
  const kind = KIND_BY_NAME.get(name);
  if (!kind) throw new Error(`no CRIU image kind ${name}`);
  return kind;
}

/** Service files carry IMG_SERVICE in the head; every other kind but INVENTORY IMG_COMMON. */
export function headMagicFor(kind: ImageKind): number | null {
  if (kind.name === 'INVENTORY') return null;
  return kind.name === 'STATS' || kind.name === 'IRMAP_CACHE' ? IMG_SERVICE : IMG_COMMON;
}

/** Raw images: written by CRIU or by tools it runs, with no magic of their own. */
const RAW_NAMES = [
  /^pages-\d+\.img$/,
  /^pages-shmem-\d+\.img$/,
  /^(ifaddr|route|route6|rule|iptables|ip6tables|nftables|netns-ct|netns-exp)-\d+\.img$/,
  /^tmpfs(-dev)?-\d+\.tar\.gz\.img$/,
];

export function isRawImageName(name: string): boolean {
  return RAW_NAMES.some((re) => re.test(name));
}

/** Files CRIU writes beside its images that carry a magic: stats-dump, stats-restore, irmap-cache. */
export function isServiceFileName(name: string): boolean {
  return /^stats-[a-z]+$/.test(name) || name === 'irmap-cache';
}
