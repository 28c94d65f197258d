/**
 * Memory maps: the vmas of mm-PID.img, in the address space (vm_id) of the process.
 * A file-backed map names its file by id in shmid; the path is that file's.
 */
import { CkptdbError } from '../../../errors.js';
import { addressText } from '../../../store/values.js';
import { badImage } from '../imageFile.js';
import { taskObjectKey } from '../keys.js';
import { MAP_PRIVATE, MAP_SHARED, VMA, permsToProt, specialVmaPath, vmaPerms } from '../values.js';
import { mm_entrySchema, type mm_entry } from '../gen/mm_pb.js';
import { core_entrySchema, task_kobj_ids_entrySchema } from '../gen/core_pb.js';
import type { vma_entry } from '../gen/vma_pb.js';
import { pstree_entrySchema } from '../gen/pstree_pb.js';
import { int64, overlay, u64, type Binding } from './binding.js';
import { rebuildTaskImage, type ExportContext, type OriginalImage } from './exportContext.js';
import type { ImportContext } from './context.js';

function isFileVma(v: vma_entry): boolean {
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

/** mm-PID.img: the vmas of the process's address space, each with its maps row's end, perms and offset. */
export function exportMm(ex: ExportContext, img: OriginalImage): Buffer | null {
  return rebuildTaskImage(ex, img, mm_entrySchema, (pid, task, mm) => {
    const rows = new Map((task.mm_key ? ex.rows.maps.get(task.mm_key) ?? [] : []).map((r) => [r.start_addr, r]));
    const before = mm.vmas.length;
    let changed = false;
    mm.vmas = mm.vmas.filter((v) => {
      const row = rows.get(addressText(v.start, 'vma start'));
      if (!row) return false;
      rows.delete(row.start_addr);
      changed = overlay(v, VMA_BINDINGS, row, `map ${row.start_addr} of task ${pid}`) || changed;
      return true;
    });
    const [extra] = rows.keys();
    if (extra !== undefined) throw new CkptdbError('UNSUPPORTED', `map ${extra} of task ${pid} is not in mm-${pid}.img: ckptdb cannot make a CRIU vma for a new map`);
    return changed || mm.vmas.length !== before;
  });
}

const VMA_BINDINGS: Record<string, Binding<vma_entry>> = {
  end_addr: {
    get: (v) => addressText(v.end, 'vma end'),
    set: (v, x) => { v.end = BigInt(`0x${String(x)}`); },
  },
  perms: {
    get: (v) => vmaPerms(v.prot, v.flags),
    set: (v, x) => {
      const perms = String(x);
      if (!/^[r-][w-][x-][sp]$/.test(perms)) throw new Error('perms are rwxp or rwxs');
      v.prot = permsToProt(perms);
      v.flags = perms[3] === 's' ? (v.flags & ~MAP_PRIVATE) | MAP_SHARED : (v.flags & ~MAP_SHARED) | MAP_PRIVATE;
    },
  },
  pgoff: { get: (v) => int64(v.pgoff), set: (v, x) => { v.pgoff = u64(x, 'pgoff'); } },
};
