/** Writes the open files, the objects behind them, the fds that point to them and socket details. */
import type { CheckpointWriter } from '../writer.js';
import type { FileInput } from '../types.js';
import { O_CLOEXEC, parseExtra } from './fdinfo.js';
import type { FdRecord } from './fds.js';
import type { SocketDetails } from './net.js';
import { decimal64 } from './numbers.js';
import type { ObjectIds } from './objects.js';
import type { Pacer } from './pacer.js';
import type { SharedGroup } from './sharing.js';
import type { CaptureWarnings } from './warnings.js';

export interface FileWriteContext {
  writer: CheckpointWriter;
  objects: ObjectIds;
  warnings: CaptureWarnings;
  pacer: Pacer;
  sockets: ReadonlyMap<string, SocketDetails>;
}

/** The inode, pipe or socket the file stands on. */
function objectOf(r: FdRecord, objects: ObjectIds): number | null {
  const kind = r.kind;
  if (!kind?.object || !r.info) return null;
  if (kind.object !== 'inode') return objects.get(kind.object, kind.path);
  if (!r.info.ino) return null;
  return objects.get('inode', `${r.dev ?? `mnt${r.info.mntId}`}:${r.info.ino}`);
}

function fileInput(g: SharedGroup<FdRecord>, first: FdRecord, object: number | null): FileInput {
  const info = first.info;
  return {
    key: `${first.table.name}:${first.fd}`,
    type: first.type,
    path: first.kind?.path ?? null,
    pos: info ? decimal64(info.pos) : null,
    flags: info ? info.flags & ~O_CLOEXEC : null,
    mode: first.mode,
    mntId: info ? info.mntId : null,
    dev: first.dev,
    inode: info?.ino ? decimal64(info.ino) : null,
    deleted: first.kind?.deleted ?? false,
    object,
    inferred: g.inferred,
    unreadable: first.unreadable,
    attrs: attrsOf(first),
  };
}

function attrsOf(r: FdRecord): Record<string, unknown> | undefined {
  const extra = r.info?.extra ? parseExtra(r.info.extra) : undefined;
  if (!r.rdev) return extra;
  return { rdev: r.rdev, ...extra };
}

export async function writeFiles(groups: SharedGroup<FdRecord>[], ctx: FileWriteContext): Promise<void> {
  const { writer, objects, warnings } = ctx;
  const described = new Set<number>();
  let i = 0;
  for (const g of groups) {
    await ctx.pacer.step('files', ++i, groups.length);
    // fds of a table none of whose tasks was written (all exited) have nowhere to hang
    const members = g.members.filter((m) => m.table.objectId !== null);
    warnings.vanishedFds += g.members.length - members.length;
    const first = members[0];
    if (!first) continue;
    const object = objectOf(first, objects);
    const file = writer.addFile(fileInput(g, first, object));
    if (g.inferred && !first.unreadable) warnings.inferredObjects++;
    if (first.unreadable) warnings.unreadable++;
    for (const m of members) writer.addFd({ fdtable: m.table.objectId!, fd: m.fd, cloexec: m.cloexec, file });
    if (first.type === 'socket' && object !== null && !described.has(object)) {
      const details = ctx.sockets.get(first.info!.ino);
      if (details) writer.addSocket({ object, ...details });
      described.add(object);
    }
  }
}
