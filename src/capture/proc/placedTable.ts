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
import type { FilePlacer } from './filePlacer.js';
import { decimal64 } from './numbers.js';
import type { SocketSeen } from './sockets.js';

const EMPTY = new Int32Array(0);

/** Per fd in `fds`: fd, cloexec (0|1), file number, created (0|1), and how many of `inferred` follow it. */
export const FD_STRIDE = 5;

/** The values of a new file in `files`, FILE_STRIDE per file (each a FileInput field but object). */
export const F_KEY = 0;
export const F_TYPE = 1;
export const F_PATH = 2;
export const F_POS = 3;
export const F_FLAGS = 4;
export const F_MODE = 5;
export const F_MNT = 6;
export const F_DEV = 7;
export const F_INODE = 8;
export const F_DELETED = 9;
/** The kind and key of the shared object the file stands on, or null. */
export const F_OBJECT_KIND = 10;
export const F_OBJECT_KEY = 11;
export const F_INFERRED = 12;
export const F_UNREADABLE = 13;
export const F_ATTRS = 14;
/** A socket's inode number (text), to describe it from sock_diag and /proc/net. */
export const F_SOCKET_INO = 15;
export const FILE_STRIDE = 16;

export interface PlacedTable {
  index: number;
  /** The task the table was last read through. */
  holder: number;
  /** Fds closed (or whose tasks all exited) while being read or compared. */
  vanished: number;
  fds: Int32Array;
  files: unknown[];
  /** Numbers of files handed out before that turned out to be inferred, in order. */
  inferred: number[];
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

function attrsOf(records: readonly unknown[], at: number): Record<string, unknown> | undefined {
  const extraText = records[at + R_EXTRA] as string | null;
  const extra = extraText ? parseExtra(extraText) : undefined;
  const rdev = records[at + R_RDEV] as string | null;
  if (!rdev) return extra;
  return { rdev, ...extra };
}

/** Places every fd of a table read (in fd order), for the writer; the sockets met are added to `sockets`. */
export function placeTable(placer: FilePlacer, index: number, table: TableState, read: TableRead, sockets: SocketSeen[]): PlacedTable {
  const { records } = read;
  const fds: number[] = [];
  const out: PlacedTable = { index, holder: table.holder, vanished: read.vanished, fds: EMPTY, files: [], inferred: [] };
  for (let at = 0; at < records.length; at += STRIDE) {
    const p = placer.place(index, records, at);
    if (!p) {
      out.vanished++;
      continue;
    }
    const fd = records[at + R_FD] as number;
    fds.push(fd, records[at + R_CLOEXEC] as number, p.fileNo, p.created ? 1 : 0, p.nowInferred.length);
    for (const n of p.nowInferred) out.inferred.push(n);
    if (!p.created) continue;
    const object = objectOf(records, at);
    const pos = records[at + R_POS] as string | null;
    const ino = records[at + R_INO] as string;
    const type = records[at + R_TYPE] as string;
    out.files.push(
      `${table.name}:${fd}`, type, records[at + R_PATH], pos === null ? null : decimal64(pos), records[at + R_FLAGS], records[at + R_MODE],
      records[at + R_MNT], records[at + R_DEV], pos !== null && ino ? decimal64(ino) : null, records[at + R_DELETED],
      object?.[0] ?? null, object?.[1] ?? null, p.inferred, records[at + R_UNREADABLE], attrsOf(records, at),
      type === 'socket' && object !== null ? ino : null,
    );
    if (type === 'socket' && object !== null) sockets.push({ ino, holder: table.holder });
  }
  out.holder = table.holder;
  out.fds = Int32Array.from(fds);
  return out;
}
