/**
 * The fds of a capture, table by table in tid order and fd by fd: each is read (ahead,
 * by another thread: fdReaders.ts), placed on its open file (kcmp), and written at
 * once with its file when the file is new.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import { fifoKey } from '../../store/fifoKey.js';
import type { FileInput } from '../../store/writer/types.js';
import { O_CLOEXEC, parseExtra } from './fdinfo.js';
import { DETAIL_LINES, TtyFiles, writeFileDetails } from './fileDetails.js';
import type { FdReader } from './fdReaders.js';
import type { FdRecord, FdTableRef } from './fds.js';
import type { FilePlacer, FileGroup } from './files.js';
import { decimal64 } from './numbers.js';
import type { ObjectIds } from './objects.js';
import type { Pacer } from './pacer.js';
import type { CaptureWarnings } from './warnings.js';

export interface FdPhaseContext {
  writer: CheckpointWriter;
  objects: ObjectIds;
  warnings: CaptureWarnings;
  pacer: Pacer;
  placer: FilePlacer;
}

/** A socket object to describe from /proc/net once every fd is read. */
export interface SocketRef {
  objectId: number;
  ino: string;
  holder: number;
}

/** The inode, pipe or socket the file stands on: a FIFO's pipe rather than its inode. */
function objectOf(r: FdRecord, objects: ObjectIds): number | null {
  const kind = r.kind;
  if (!kind?.object || !r.info) return null;
  if (kind.object !== 'inode') return objects.get(kind.object, kind.path);
  if (!r.info.ino) return null;
  if (r.type === 'fifo') return objects.get('pipe', fifoKey(r.dev, r.info.mntId, r.info.ino));
  return objects.get('inode', `${r.dev ?? `mnt${r.info.mntId}`}:${r.info.ino}`);
}

/** The fdinfo lines no detail table takes, and a device's number. */
function attrsOf(r: FdRecord): Record<string, unknown> | undefined {
  const rest = r.info?.extra?.split('\n').filter((l) => !DETAIL_LINES.test(l)).join('\n');
  const extra = rest ? parseExtra(rest) : undefined;
  if (!r.rdev) return extra;
  return { rdev: r.rdev, ...extra };
}

function fileInput(g: FileGroup, object: number | null): FileInput {
  const first = g.first;
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

/**
 * Places and writes the fds of every table whose tasks were written, as the reader
 * (started on the same tables) hands them over; returns the sockets met.
 */
export async function captureFds(tables: FdTableRef[], reader: FdReader, ctx: FdPhaseContext): Promise<SocketRef[]> {
  const { writer, objects, warnings, placer } = ctx;
  const sockets: SocketRef[] = [];
  const total = tables.reduce((n, t) => n + t.fds.length, 0);
  const ttys = new TtyFiles();
  let done = 0;
  for (let i = 0; i < tables.length; i++) {
    const table = tables[i]!;
    const { records, vanished } = await reader.read(i);
    if (table.objectId === null) {
      // none of its tasks was written (all exited): its fds have nowhere to hang
      warnings.vanishedFds += table.fds.length;
      continue;
    }
    warnings.vanishedFds += vanished;
    for (const r of records) {
      const p = placer.place(r);
      if (!p) {
        warnings.vanishedFds++;
        continue;
      }
      const g = p.group;
      if (p.created) {
        const object = objectOf(r, objects);
        g.fileId = writer.addFile(fileInput(g, object));
        writeFileDetails(writer, g.fileId, r);
        ttys.add(g.fileId, r);
        if (r.unreadable) warnings.unreadable++;
        else if (g.inferred) warnings.inferredObjects++;
        if (r.type === 'socket' && object !== null) sockets.push({ objectId: object, ino: r.info!.ino, holder: table.holder });
      }
      for (const inferred of p.nowInferred) {
        writer.markInferred(inferred.fileId!);
        warnings.inferredObjects++;
      }
      writer.addFd({ fdtable: table.objectId!, fd: r.fd, cloexec: r.cloexec, file: g.fileId! });
    }
    done += table.fds.length;
    await ctx.pacer.step('fds', done, total);
  }
  ttys.write(writer);
  return sockets;
}
