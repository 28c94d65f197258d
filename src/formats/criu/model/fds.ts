/**
 * fd tables: fdinfo-N.img holds the fds of one fd table. With inventory's
 * fdinfo_per_id (CRIU 1.8 on) N is the table's files_id, shared by the threads and
 * CLONE_FILES processes using it; before, N was a pid and the table that pid's.
 */
import { create } from '@bufbuild/protobuf';
import type { ObjectId } from '../../../store/writer/types.js';
import { CkptdbError } from '../../../errors.js';
import { badImage, encodeImage, encodeMessage } from '../imageFile.js';
import { kindNamed } from '../magic.js';
import { imageNumber } from '../images.js';
import { fileIdOfKey, taskObjectKey } from '../keys.js';
import { FD_CLOEXEC } from '../values.js';
import { fdinfo_entrySchema, type fdinfo_entry } from '../gen/fdinfo_pb.js';
import { task_kobj_ids_entrySchema, core_entrySchema } from '../gen/core_pb.js';
import type { ImportContext } from './context.js';
import { rebuild, decodeFresh, type ExportContext, type OriginalImage, type OutEntry } from './exportContext.js';
import type { FdRow } from './rows.js';

/** The files_id a fdinfo image belongs to. */
function fdtableIdOf(ctx: ImportContext, name: string, perId: boolean): number {
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
    for (const { entry, msg } of ctx.decodeEach(name, fdinfo_entrySchema)) {
      if (seen.has(msg.fd)) throw badImage(ctx.where(name), entry.offset, `fd ${msg.fd} appears twice`);
      seen.add(msg.fd);
      const file = ctx.fileRow(msg.id, name, entry.offset, `fd ${msg.fd}`);
      ctx.w.addFd({ fdtable, fd: msg.fd, cloexec: (msg.flags & FD_CLOEXEC) !== 0, file });
    }
    tables++;
  }
  return tables;
}

function byNumber(a: string, b: string): number {
  return imageNumber(a) - imageNumber(b);
}

/** The fd table a fdinfo image of the original checkpoint holds, by its key. */
export function fdtableKeyOf(ex: ExportContext, name: string): string | null {
  const n = imageNumber(name);
  if (ex.fdinfoPerId) return taskObjectKey('fdtable', n);
  return ex.rows.tasks.get(n)?.fdtable_key ?? null;
}

/**
 * fdinfo-N.img from the fds rows of its table: entries keep their order, fds added in
 * the store follow in fd order, and the file id and type follow the file an fd points at.
 */
export function exportFdinfo(ex: ExportContext, img: OriginalImage | null, key: string, types: Map<number, number>): Buffer {
  const rows = new Map((ex.rows.fds.get(key) ?? []).map((r) => [Number(r.fd), r]));
  const out: OutEntry<typeof fdinfo_entrySchema>[] = [];
  const overlayFd = (msg: fdinfo_entry, row: FdRow): boolean => {
    const fileId = fileIdOfKey(row.file_key);
    if (fileId === null) throw new CkptdbError('UNSUPPORTED', `fd ${row.fd} of ${key} points at ${row.file_key}, which is not a CRIU file`);
    const flags = row.cloexec ? msg.flags | FD_CLOEXEC : msg.flags & ~FD_CLOEXEC;
    const type = types.get(fileId) ?? msg.type;
    const changed = msg.id !== fileId || msg.flags !== flags || msg.type !== type;
    Object.assign(msg, { id: fileId, flags, type });
    return changed;
  };
  for (const { entry, msg } of img ? decodeFresh(img, fdinfo_entrySchema) : []) {
    const row = rows.get(msg.fd);
    if (!row) continue;
    rows.delete(msg.fd);
    out.push(overlayFd(msg, row) ? { schema: fdinfo_entrySchema, msg } : { original: entry });
  }
  for (const row of [...rows.values()].sort((a, b) => Number(a.fd) - Number(b.fd))) {
    const msg = create(fdinfo_entrySchema, { fd: Number(row.fd), flags: 0, type: 0, id: 0 });
    overlayFd(msg, row);
    out.push({ schema: fdinfo_entrySchema, msg });
  }
  if (!img) return encodeImage(kindNamed('FDINFO'), undefined, out.map((e) => ({ payload: encodeMessage(fdinfo_entrySchema, (e as { msg: fdinfo_entry }).msg) })));
  return rebuild(img, out);
}
