/**
 * One fd table's fds placed on their open files (filePlacer.ts), as plain numbers and
 * strings for the thread that writes them: per fd which file it is, and for each file
 * it is the first to reach, what the writer stores of that file.
 */
import { fifoKey } from '../../store/fifoKey.js';
import type { TableRead } from './fdRecords.js';
import {
  R_CLOEXEC, R_DELETED, R_DEV, R_EXTRA, R_FD, R_FLAGS, R_INO, R_MNT, R_MODE, R_OBJECT, R_PATH, R_POS, R_RDEV, R_TYPE, R_UNREADABLE,
  STRIDE, type TableState,
} from './fdRecords.js';
import { parseExtra } from './fdinfo.js';
import { DETAIL_LINES, fileDetailsOf } from './fileDetails.js';
import type { FilePlacer } from './filePlacer.js';
import type { SocketSeen } from './sockets.js';

/** Per fd in `fds`: fd, cloexec (0|1), file number, created (0|1), and how many of `inferred` follow it. */
export const FD_STRIDE = 5;

/**
 * Per new file, FILE_STRINGS strings (joined by NUL in `strings`, '' for none: none of
 * them can be empty or hold a NUL otherwise) and FILE_NUMBERS numbers (NaN for none).
 */
export const S_KEY = 0;
export const S_TYPE = 1;
export const S_PATH = 2;
/** Decimal text: a position can exceed 2^53. */
export const S_POS = 3;
export const S_DEV = 4;
export const S_INODE = 5;
/** The kind and key of the shared object the file stands on. */
export const S_OBJECT_KIND = 6;
export const S_OBJECT_KEY = 7;
export const S_UNREADABLE = 8;
/** A socket's inode number, to describe it from sock_diag and /proc/net. */
export const S_SOCKET_INO = 9;
export const FILE_STRINGS = 10;
export const N_FLAGS = 0;
export const N_MODE = 1;
export const N_MNT = 2;
/** 0 | 1. */
export const N_DELETED = 3;
export const N_INFERRED = 4;
export const FILE_NUMBERS = 5;

/**
 * A table as it crosses to the writing thread: a few strings and typed arrays rather
 * than a value per field, which the structured clone between threads copies in bulk.
 */
export interface PlacedTable {
  index: number;
  /** Fds closed (or whose tasks all exited) while being read or compared. */
  vanished: number;
  fds: Int32Array;
  /** Numbers of files handed out before that turned out to be inferred, in order. */
  inferred: Int32Array;
  strings: string;
  numbers: Float64Array;
  /** [new file's place among this table's new files, its attrs], for those that have attrs. */
  attrs: unknown[];
  /** [new file's place, its FileDetails (fileDetails.ts)], for those that have detail rows. */
  details: unknown[];
}

/** The inode, pipe or socket the file stands on: a FIFO's pipe rather than its inode. */
function objectOf(records: readonly unknown[], at: number): [kind: string, key: string] | null {
  const object = records[at + R_OBJECT] as string | null;
  const pos = records[at + R_POS] as string | null;
  if (!object || pos === null) return null;
  const path = records[at + R_PATH] as string;
  if (object !== 'inode') return [object, path];
  const ino = records[at + R_INO] as string;
  if (!ino) return null;
  const dev = records[at + R_DEV] as string | null;
  const mntId = records[at + R_MNT] as number;
  if (records[at + R_TYPE] === 'fifo') return ['pipe', fifoKey(dev, mntId, ino)];
  return ['inode', `${dev ?? `mnt${mntId}`}:${ino}`];
}

/** The fdinfo lines no detail table takes, and a device's number. */
function attrsOf(records: readonly unknown[], at: number): Record<string, unknown> | undefined {
  const extraText = records[at + R_EXTRA] as string | null;
  const rest = extraText?.split('\n').filter((l) => !DETAIL_LINES.test(l)).join('\n');
  const extra = rest ? parseExtra(rest) : undefined;
  const rdev = records[at + R_RDEV] as string | null;
  if (!rdev) return extra;
  return { rdev, ...extra };
}

/** Places every fd of a table read (in fd order), for the writer; the sockets met are added to `sockets`. */
export function placeTable(placer: FilePlacer, index: number, table: TableState, read: TableRead, sockets: SocketSeen[]): PlacedTable {
  const { records } = read;
  const fds: number[] = [];
  const inferred: number[] = [];
  const strings: string[] = [];
  const numbers: number[] = [];
  const attrs: unknown[] = [];
  const details: unknown[] = [];
  let vanished = read.vanished;
  for (let at = 0; at < records.length; at += STRIDE) {
    const p = placer.place(index, records, at);
    if (!p) {
      vanished++;
      continue;
    }
    const fd = records[at + R_FD] as number;
    fds.push(fd, records[at + R_CLOEXEC] as number, p.fileNo, p.created ? 1 : 0, p.nowInferred.length);
    for (const n of p.nowInferred) inferred.push(n);
    if (!p.created) continue;
    const object = objectOf(records, at);
    const pos = records[at + R_POS] as string | null;
    const ino = records[at + R_INO] as string;
    const type = records[at + R_TYPE] as string;
    const socket = type === 'socket' && object !== null;
    const a = attrsOf(records, at);
    if (a) attrs.push(numbers.length / FILE_NUMBERS, a);
    const d = fileDetailsOf(type, records[at + R_EXTRA] as string | null, records[at + R_RDEV] as string | null);
    if (d) details.push(numbers.length / FILE_NUMBERS, d);
    strings.push(
      `${table.name}:${fd}`, type, (records[at + R_PATH] as string | null) ?? '', pos ?? '', (records[at + R_DEV] as string | null) ?? '',
      pos !== null ? ino : '', object?.[0] ?? '', object?.[1] ?? '', (records[at + R_UNREADABLE] as string | null) ?? '', socket ? ino : '',
    );
    numbers.push(
      (records[at + R_FLAGS] as number | null) ?? NaN, (records[at + R_MODE] as number | null) ?? NaN, (records[at + R_MNT] as number | null) ?? NaN,
      records[at + R_DELETED] ? 1 : 0, p.inferred ? 1 : 0,
    );
    if (socket) sockets.push({ ino, holder: table.holder });
  }
  return {
    index, vanished, fds: Int32Array.from(fds), inferred: Int32Array.from(inferred), strings: strings.join('\0'), numbers: Float64Array.from(numbers), attrs, details,
  };
}
