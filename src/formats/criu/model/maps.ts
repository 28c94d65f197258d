/**
 * Memory maps: the vmas of mm-PID.img, in the address space (vm_id) of the process.
 * A file-backed map names its file by id in shmid; the path is that file's.
 */
import { badImage } from '../imageFile.js';
import { taskObjectKey } from '../keys.js';
import { VMA, specialVmaPath, vmaPerms } from '../values.js';
import { mm_entrySchema, type mm_entry } from '../gen/mm_pb.js';
import { core_entrySchema, task_kobj_ids_entrySchema } from '../gen/core_pb.js';
import type { vma_entry } from '../gen/vma_pb.js';
import { pstree_entrySchema } from '../gen/pstree_pb.js';
import { int64 } from './binding.js';
import type { ImportContext } from './context.js';

export function isFileVma(v: vma_entry): boolean {
  return (v.status & (VMA.FILE_PRIVATE | VMA.FILE_SHARED)) !== 0 && (v.status & VMA.SYSVIPC) === 0;
}

export function importMaps(ctx: ImportContext): number {
  let n = 0;
  for (const { msg: p } of ctx.decodeAll('pstree.img', pstree_entrySchema)) {
    const name = `mm-${p.pid}.img`;
    const mm = ctx.decodeOne(name, mm_entrySchema);
    if (!mm) continue;
    const ids = ctx.decodeOne(`ids-${p.pid}.img`, task_kobj_ids_entrySchema)?.msg ?? ctx.decodeOne(`core-${p.pid}.img`, core_entrySchema)?.msg.ids;
    if (!ids) throw badImage(ctx.where(name), mm.entry.offset, `process ${p.pid} has memory maps but no ids-${p.pid}.img naming its address space`);
    n += addMaps(ctx, name, mm.entry.offset, mm.msg, ctx.w.addSharedObject({ kind: 'mm', key: taskObjectKey('mm', ids.vmId) }));
  }
  return n;
}

function addMaps(ctx: ImportContext, name: string, offset: number, mm: mm_entry, mmObject: number): number {
  mm.vmas.forEach((v, i) => {
    if (v.end <= v.start) throw badImage(ctx.where(name), offset, `vma ${i} ends at 0x${v.end.toString(16)}, not above its start 0x${v.start.toString(16)}`);
    const path = isFileVma(v) ? ctx.filePath(Number(v.shmid), name, offset, `vma ${i}`) : specialVmaPath(v.status);
    ctx.w.addMap({ mm: mmObject, start: v.start, end: v.end, perms: vmaPerms(v.prot, v.flags), pgoff: int64(v.pgoff), path });
  });
  return mm.vmas.length;
}
