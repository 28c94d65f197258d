/**
 * The details of anonymous files (migrations/0005_file_details.sql) from the lines
 * /proc/PID/fdinfo/N adds for each kind, and ttys from the device numbers the kernel
 * gives them: the same rows a CRIU import writes for the same files.
 *
 * They are read where the fds are read and placed (placedTable.ts), as plain data that
 * crosses to the writing thread, which gives them their file's id (fdPhase.ts).
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type {
  EpollTargetInput, EventfdInput, InotifyWatchInput, ObjectId, SignalfdInput, TimerfdInput, TtyInput,
} from '../../store/writer/types.js';
import { decimal64, hex64 } from './numbers.js';

/** fdinfo lines each detail table takes: they leave the files row's attrs. */
export const DETAIL_LINES = /^(eventfd-count|tfd|inotify|clockid|ticks|settime flags|it_value|it_interval|sigmask|tty-index)\b/;

type Row<T> = Omit<T, 'file'>;

/** What a tty file is, before its file has an id and its peer is known. */
export type TtyFacts = Omit<TtyInput, 'file' | 'peer'>;

/** The detail rows of one file, without its id. */
export interface FileDetails {
  eventfd?: Row<EventfdInput>;
  epollTargets?: Row<EpollTargetInput>[];
  inotifyWatches?: Row<InotifyWatchInput>[];
  timerfd?: Row<TimerfdInput>;
  signalfd?: Row<SignalfdInput>;
  tty?: TtyFacts;
}

/** 'fe00000' (the kernel's encoding of a device, in hex, as fdinfo prints sdev) to '254:0'. */
function sdevText(hex: string): string {
  const n = parseInt(hex, 16);
  return `${n >>> 20}:${n & 0xfffff}`;
}

/** Fields of a line of `key:value` words (`tfd: 5 events: 19 ...`, `inotify wd:2 ino:...`). */
function words(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/([A-Za-z_-]+):\s*(\S+)/g)) out[m[1]!] = m[2]!;
  return out;
}

/** '(2948, 848232140)' to nanoseconds. */
function timespecNs(text: string): number | bigint {
  const m = /\((\d+),\s*(\d+)\)/.exec(text);
  if (!m) return 0;
  const ns = BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!);
  return decimal64(ns.toString());
}

/** The major of /dev/ptmx, /dev/tty and /dev/console, and the pty slaves' (UNIX98_PTY_SLAVE_MAJOR + 0..7). */
const TTYAUX_MAJOR = 5;
const TTY_MAJOR = 4;
const PTY_SLAVE_MAJOR = 136;

/** The tty a character device file is on, from the device it stands for; null for other devices. */
function ttyOf(rdev: string, extra: string | null): TtyFacts | null {
  const [major, minor] = rdev.split(':').map(Number) as [number, number];
  if (major >= PTY_SLAVE_MAJOR && major < PTY_SLAVE_MAJOR + 8) {
    return { kind: 'pty', index: (major - PTY_SLAVE_MAJOR) * 256 + minor, role: 'slave', rdev };
  }
  if (major === TTYAUX_MAJOR && minor === 2) {
    const index = /^tty-index:\s*(\d+)/m.exec(extra ?? '')?.[1];
    return { kind: 'pty', index: index === undefined ? null : Number(index), role: 'master', rdev };
  }
  if (major === TTYAUX_MAJOR && minor <= 1) return { kind: minor === 0 ? 'ctty' : 'console', index: minor, role: null, rdev };
  if (major === TTY_MAJOR) return { kind: minor < 64 ? 'vt' : 'serial', index: minor, role: null, rdev };
  return null;
}

/**
 * The detail rows of a file of this type from its fdinfo lines past the common ones
 * (`extra`) and the device it stands for; null when it has none.
 */
export function fileDetailsOf(type: string, extra: string | null, rdev: string | null): FileDetails | null {
  if (type === 'chr') {
    const tty = rdev ? ttyOf(rdev, extra) : null;
    return tty ? { tty } : null;
  }
  if (!extra) return null;
  const lines = extra.split('\n');
  const value = (key: string) => {
    const line = lines.find((l) => l.startsWith(`${key}:`));
    return line === undefined ? null : line.slice(key.length + 1).trim();
  };
  switch (type) {
    case 'eventfd': {
      const count = value('eventfd-count');
      return count === null ? null : { eventfd: { counter: hex64(count) } };
    }
    case 'epoll': {
      const targets: Row<EpollTargetInput>[] = [];
      for (const line of lines) {
        if (!line.startsWith('tfd:')) continue;
        const w = words(line);
        targets.push({
          seq: targets.length, tfd: Number(w.tfd), events: parseInt(w.events!, 16), data: hex64(w.data!),
          inode: w.ino !== undefined ? hex64(w.ino) : null,
          dev: w.sdev !== undefined ? sdevText(w.sdev) : null,
          pos: w.pos !== undefined ? decimal64(w.pos) : null,
        });
      }
      return targets.length ? { epollTargets: targets } : null;
    }
    case 'inotify': {
      const watches: Row<InotifyWatchInput>[] = [];
      for (const line of lines) {
        if (!line.startsWith('inotify ')) continue;
        const w = words(line);
        watches.push({
          wd: parseInt(w.wd!, 16), inode: hex64(w.ino!), dev: sdevText(w.sdev!),
          mask: parseInt(w.mask!, 16), ignoredMask: parseInt(w.ignored_mask ?? '0', 16),
        });
      }
      return watches.length ? { inotifyWatches: watches } : null;
    }
    case 'timerfd': {
      const clockid = value('clockid');
      if (clockid === null) return null;
      return {
        timerfd: {
          clockid: Number(clockid), ticks: decimal64(value('ticks') ?? '0'),
          settimeFlags: parseInt(value('settime flags') ?? '0', 8),
          intervalNs: timespecNs(value('it_interval') ?? ''), valueNs: timespecNs(value('it_value') ?? ''),
        },
      };
    }
    case 'signalfd': {
      const mask = value('sigmask');
      return mask === null ? null : { signalfd: { sigmask: mask.padStart(16, '0') } };
    }
    default:
      return null;
  }
}

/**
 * Writes the detail rows of the file `file`, but its tty, which waits in `ttys` until
 * every file of the capture is known.
 */
export function writeFileDetails(writer: CheckpointWriter, file: ObjectId, d: FileDetails, ttys: TtyFiles): void {
  if (d.eventfd) writer.addEventfd({ file, ...d.eventfd });
  if (d.epollTargets) for (const t of d.epollTargets) writer.addEpollTarget({ file, ...t });
  if (d.inotifyWatches) for (const w of d.inotifyWatches) writer.addInotifyWatch({ file, ...w });
  if (d.timerfd) writer.addTimerfd({ file, ...d.timerfd });
  if (d.signalfd) writer.addSignalfd({ file, ...d.signalfd });
  if (d.tty) ttys.add(file, d.tty);
}

/** The ttys among a capture's files: a pty's two sides are linked once every file is known, as file_ttys.peer_file_id. */
export class TtyFiles {
  private readonly ttys: (TtyFacts & { file: ObjectId })[] = [];

  add(file: ObjectId, tty: TtyFacts): void {
    this.ttys.push({ file, ...tty });
  }

  write(writer: CheckpointWriter): void {
    const sides = { master: new Map<number, ObjectId>(), slave: new Map<number, ObjectId>() };
    for (const t of this.ttys) {
      if (!t.role || t.index == null) continue;
      const side = sides[t.role];
      side.set(t.index, Math.min(side.get(t.index) ?? Infinity, t.file));
    }
    for (const t of this.ttys) {
      const peer = !t.role || t.index == null ? null : sides[t.role === 'master' ? 'slave' : 'master'].get(t.index) ?? null;
      writer.addTty({ ...t, peer });
    }
  }
}
