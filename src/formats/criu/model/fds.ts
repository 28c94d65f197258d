/**
 * fd tables: fdinfo-N.img holds the fds of one fd table. With inventory's
 * fdinfo_per_id (CRIU 1.8 on) N is the table's files_id, shared by the threads and
 * CLONE_FILES processes using it; before, N was a pid and the table that pid's.
 */
import type { ObjectId } from '../../../capture/types.js';
import { badImage } from '../imageFile.js';
import { imageNumber } from '../images.js';
import { taskObjectKey } from '../keys.js';
import { FD_CLOEXEC } from '../values.js';
import { fdinfo_entrySchema } from '../gen/fdinfo_pb.js';
import { task_kobj_ids_entrySchema, core_entrySchema } from '../gen/core_pb.js';
import type { ImportContext } from './context.js';

/** The files_id a fdinfo image belongs to. */
export function fdtableIdOf(ctx: ImportContext, name: string, perId: boolean): number {
  const n = imageNumber(name);
  if (perId) return n;
  const ids = ctx.decodeOne(`ids-${n}.img`, task_kobj_ids_entrySchema)?.msg ?? ctx.decodeOne(`core-${n}.img`, core_entrySchema)?.msg.ids;
  if (!ids) throw badImage(ctx.where(name), 0, `fd table of pid ${n}: no ids-${n}.img tells which one it is`);
  return ids.filesId;
}

export function importFds(ctx: ImportContext, perId: boolean): number {
  let tables = 0;
  for (const name of [...ctx.images.keys()].filter((n) => /^fdinfo-\d+\.img$/.test(n)).sort(byNumber)) {
    const fdtable: ObjectId = ctx.w.addSharedObject({ kind: 'fdtable', key: taskObjectKey('fdtable', fdtableIdOf(ctx, name, perId)) });
    const seen = new Set<number>();
    for (const { entry, msg } of ctx.decodeAll(name, fdinfo_entrySchema)) {
      if (seen.has(msg.fd)) throw badImage(ctx.where(name), entry.offset, `fd ${msg.fd} appears twice`);
      seen.add(msg.fd);
      const file = ctx.fileRow(msg.id, name, entry.offset, `fd ${msg.fd}`);
      ctx.w.addFd({ fdtable, fd: msg.fd, cloexec: (msg.flags & FD_CLOEXEC) !== 0, file });
    }
    tables++;
  }
  return tables;
}

export function byNumber(a: string, b: string): number {
  return imageNumber(a) - imageNumber(b);
}
