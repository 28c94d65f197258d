/**
 * Which files of an image directory ckptdb decodes into its tables, by file name, and
 * the kind of image each must hold.
 */
import { kindNamed, type ImageKind } from './magic.js';

/** Per-type file images of CRIU before files.img, and the file_entry field each fills. */
export const LEGACY_FILE_IMAGES: Record<string, { kind: string; field: string; type: number }> = {
  'reg-files.img': { kind: 'REG_FILES', field: 'reg', type: 1 },
  'pipes.img': { kind: 'PIPES', field: 'pipe', type: 2 },
  'fifo.img': { kind: 'FIFO', field: 'fifo', type: 3 },
  'inetsk.img': { kind: 'INETSK', field: 'isk', type: 4 },
  'unixsk.img': { kind: 'UNIXSK', field: 'usk', type: 5 },
  'eventfd.img': { kind: 'EVENTFD_FILE', field: 'efd', type: 6 },
  'eventpoll.img': { kind: 'EVENTPOLL_FILE', field: 'epfd', type: 7 },
  'inotify.img': { kind: 'INOTIFY_FILE', field: 'ify', type: 8 },
  'signalfd.img': { kind: 'SIGNALFD', field: 'sgfd', type: 9 },
  'packetsk.img': { kind: 'PACKETSK', field: 'psk', type: 10 },
  'tty.img': { kind: 'TTY_FILES', field: 'tty', type: 11 },
  'fanotify.img': { kind: 'FANOTIFY_FILE', field: 'ffy', type: 12 },
  'netlinksk.img': { kind: 'NETLINK_SK', field: 'nlsk', type: 13 },
  'ns-files.img': { kind: 'NS_FILES', field: 'nsf', type: 14 },
  'tunfile.img': { kind: 'TUNFILE', field: 'tunf', type: 15 },
  'ext-files.img': { kind: 'EXT_FILES', field: 'ext', type: 16 },
  'timerfd.img': { kind: 'TIMERFD', field: 'tfd', type: 17 },
  'bpfmap-file.img': { kind: 'BPFMAP_FILE', field: 'bpf', type: 19 },
};

const PER_TASK: [RegExp, string][] = [
  [/^core-(\d+)\.img$/, 'CORE'],
  [/^ids-(\d+)\.img$/, 'IDS'],
  [/^fs-(\d+)\.img$/, 'FS'],
  [/^mm-(\d+)\.img$/, 'MM'],
  [/^fdinfo-(\d+)\.img$/, 'FDINFO'],
];

/** The kind a modelled image must be, or null when ckptdb keeps the file as it is. */
export function modelledKind(name: string): ImageKind | null {
  if (name === 'inventory.img') return kindNamed('INVENTORY');
  if (name === 'pstree.img') return kindNamed('PSTREE');
  if (name === 'files.img') return kindNamed('FILES');
  const legacy = LEGACY_FILE_IMAGES[name];
  if (legacy) return kindNamed(legacy.kind);
  for (const [re, kind] of PER_TASK) if (re.test(name)) return kindNamed(kind);
  return null;
}

/** The number in core-N.img, fdinfo-N.img, ... */
export function imageNumber(name: string): number {
  return Number(/-(\d+)\.img$/.exec(name)![1]);
}
