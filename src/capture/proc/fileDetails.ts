/**
 * The details of anonymous files (migrations/0005_file_details.sql) from the lines
 * /proc/PID/fdinfo/N adds for each kind, and ttys from the device numbers the kernel
 * gives them: the same rows a CRIU import writes for the same files.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { ObjectId, TtyKind } from '../../store/writer/types.js';
import type { FdRecord } from './fds.js';
import { decimal64, hex64 } from './numbers.js';

/** fdinfo lines each detail table takes: they leave the files row's attrs. */
export const DETAIL_LINES = /^(eventfd-count|tfd|inotify|clockid|ticks|settime flags|it_value|it_interval|sigmask|tty-index)\b/;

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

/** Writes the detail rows of one file from its fdinfo lines. */
export function writeFileDetails(writer: CheckpointWriter, file: ObjectId, r: FdRecord): void {
  const extra = r.info?.extra;
  if (!extra) return;
  const lines = extra.split('\n');
  const value = (key: string) => {
    const line = lines.find((l) => l.startsWith(`${key}:`));
    return line === undefined ? null : line.slice(key.length + 1).trim();
  };
  switch (r.type) {
    case 'eventfd': {
      const count = value('eventfd-count');
      if (count !== null) writer.addEventfd({ file, counter: hex64(count) });
      break;
    }
    case 'epoll': {
      let seq = 0;
      for (const line of lines) {
        if (!line.startsWith('tfd:')) continue;
        const w = words(line);
        writer.addEpollTarget({
          file, seq: seq++, tfd: Number(w.tfd), events: parseInt(w.events!, 16), data: hex64(w.data!),
          inode: w.ino !== undefined ? hex64(w.ino) : null,
          dev: w.sdev !== undefined ? sdevText(w.sdev) : null,
          pos: w.pos !== undefined ? decimal64(w.pos) : null,
        });
      }
      break;
    }
    case 'inotify':
      for (const line of lines) {
        if (!line.startsWith('inotify ')) continue;
        const w = words(line);
        writer.addInotifyWatch({
          file, wd: parseInt(w.wd!, 16), inode: hex64(w.ino!), dev: sdevText(w.sdev!),
          mask: parseInt(w.mask!, 16), ignoredMask: parseInt(w.ignored_mask ?? '0', 16),
        });
      }
      break;
    case 'timerfd': {
      const clockid = value('clockid');
      if (clockid === null) break;
      writer.addTimerfd({
        file, clockid: Number(clockid), ticks: decimal64(value('ticks') ?? '0'),
        settimeFlags: parseInt(value('settime flags') ?? '0', 8),
        intervalNs: timespecNs(value('it_interval') ?? ''), valueNs: timespecNs(value('it_value') ?? ''),
      });
      break;
    }
    case 'signalfd': {
      const mask = value('sigmask');
      if (mask !== null) writer.addSignalfd({ file, sigmask: mask.padStart(16, '0') });
      break;
    }
  }
}

/** The major of /dev/ptmx, /dev/tty and /dev/console, and the pty slaves' (UNIX98_PTY_SLAVE_MAJOR + 0..7). */
const TTYAUX_MAJOR = 5;
const TTY_MAJOR = 4;
const PTY_SLAVE_MAJOR = 136;

interface TtyFile {
  file: ObjectId;
  kind: TtyKind;
  index: number | null;
  role: 'master' | 'slave' | null;
  rdev: string;
}

/**
 * The ttys among a capture's files, by the device each stands for: a pty's two sides
 * are linked once every file is known, as file_ttys.peer_file_id.
 */
export class TtyFiles {
  private readonly ttys: TtyFile[] = [];

  /** Notes a file if it is a tty. */
  add(file: ObjectId, r: FdRecord): void {
    if (r.type !== 'chr' || !r.rdev) return;
    const [major, minor] = r.rdev.split(':').map(Number) as [number, number];
    if (major >= PTY_SLAVE_MAJOR && major < PTY_SLAVE_MAJOR + 8) {
      this.ttys.push({ file, kind: 'pty', index: (major - PTY_SLAVE_MAJOR) * 256 + minor, role: 'slave', rdev: r.rdev });
    } else if (major === TTYAUX_MAJOR && minor === 2) {
      const index = /^tty-index:\s*(\d+)/m.exec(r.info?.extra ?? '')?.[1];
      this.ttys.push({ file, kind: 'pty', index: index === undefined ? null : Number(index), role: 'master', rdev: r.rdev });
    } else if (major === TTYAUX_MAJOR && minor <= 1) {
      this.ttys.push({ file, kind: minor === 0 ? 'ctty' : 'console', index: minor, role: null, rdev: r.rdev });
    } else if (major === TTY_MAJOR) {
      this.ttys.push({ file, kind: minor < 64 ? 'vt' : 'serial', index: minor, role: null, rdev: r.rdev });
    }
  }

  write(writer: CheckpointWriter): void {
    const sides = { master: new Map<number, ObjectId>(), slave: new Map<number, ObjectId>() };
    for (const t of this.ttys) {
      if (t.role === null || t.index === null) continue;
      const side = sides[t.role];
      side.set(t.index, Math.min(side.get(t.index) ?? Infinity, t.file));
    }
    for (const t of this.ttys) {
      const peer = t.role === null || t.index === null ? null : sides[t.role === 'master' ? 'slave' : 'master'].get(t.index) ?? null;
      writer.addTty({ file: t.file, kind: t.kind, index: t.index, role: t.role, rdev: t.rdev, peer });
    }
  }
}
