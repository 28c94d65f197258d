/**
 * An fd record as it crosses from the thread that read it: a flat array of primitives,
 * which the structured clone between threads copies far faster than nested objects.
 */
import type { FileType } from '../../store/writer/types.js';
import type { FdRecord, FdTableRef } from './fds.js';
import type { FileKind } from './fileKind.js';

export type WireRecord = [
  fd: number,
  cloexec: boolean,
  type: FileType,
  kind: [type: FileType, path: string, deleted: boolean, object: FileKind['object'], needsMode: boolean] | null,
  info: [pos: string, flags: number, mntId: number, ino: string, extra: string | null] | null,
  mode: number | null,
  dev: string | null,
  rdev: string | null,
  unreadable: string | null,
];

export function toWire(r: FdRecord): WireRecord {
  const k = r.kind;
  const i = r.info;
  return [
    r.fd, r.cloexec, r.type,
    k ? [k.type, k.path, k.deleted, k.object, k.needsMode] : null,
    i ? [i.pos, i.flags, i.mntId, i.ino, i.extra] : null,
    r.mode, r.dev, r.rdev, r.unreadable,
  ];
}

export function fromWire(w: WireRecord, table: FdTableRef): FdRecord {
  const [fd, cloexec, type, k, i, mode, dev, rdev, unreadable] = w;
  return {
    table, fd, cloexec, type, mode, dev, rdev, unreadable,
    kind: k ? { type: k[0], path: k[1], deleted: k[2], object: k[3], needsMode: k[4] } : null,
    info: i ? { pos: i[0], flags: i[1], mntId: i[2], ino: i[3], extra: i[4] } : null,
  };
}

/** What the reading thread needs of a table, and reports back. */
export interface WireTable {
  name: number;
  holder: number;
  users: number[];
  fds: number[];
}

export interface WireResult {
  index: number;
  holder: number;
  users: number[];
  records: WireRecord[];
  vanished: number;
}
