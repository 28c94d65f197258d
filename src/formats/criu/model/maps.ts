/**
 * Memory maps: the vmas of mm-PID.img, in the address space (vm_id) of the process,
 * as /proc/PID/maps shows them. A file-backed map names its file by id in shmid; the
 * path is that file's, and a deleted file's map is marked deleted (attrs.deleted), as
 * the live capture marks ' (deleted)'. Shared anonymous memory and memfds are memfd
 * files in CRIU 4.x: '/dev/zero' and '/memfd:NAME', deleted. The stack is the map that
 * holds mm_start_stack (CRIU 4.x does not mark it). CRIU keeps a guard region installed
 * with MADV_GUARD_INSTALL as a vma of its own inside the map, which /proc does not
 * show: it becomes part of its map's row, attrs.guard: ['start-end', ...].
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

export function isGuardVma(v: vma_entry): boolean {
  return (v.status & VMA.GUARD) !== 0;
}

/** The vma a guard region lies in: the last one before it that covers it. */
function containing(vmas: vma_entry[], i: number): vma_entry | null {
  const g = vmas[i]!;
  for (let j = i - 1; j >= 0; j--) {
    const v = vmas[j]!;
    if (!isGuardVma(v) && v.start <= g.start && g.end <= v.end) return v;
  }
  for (let j = i + 1; j < vmas.length; j++) {
    const v = vmas[j]!;
    if (!isGuardVma(v) && v.start <= g.start && g.end <= v.end) return v;
  }
  return null;
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
  const guards = new Map<vma_entry, string[]>();
  mm.vmas.forEach((v, i) => {
    if (v.end <= v.start) throw badImage(ctx.where(name), offset, `vma ${i} ends at 0x${v.end.toString(16)}, not above its start 0x${v.start.toString(16)}`);
    if (!isGuardVma(v)) return;
    const owner = containing(mm.vmas, i);
    if (!owner) throw badImage(ctx.where(name), offset, `guard vma ${i} at 0x${v.start.toString(16)} lies in no other vma`);
    guards.set(owner, [...(guards.get(owner) ?? []), `${addressText(v.start, 'guard start')}-${addressText(v.end, 'guard end')}`]);
  });
  let n = 0;
  mm.vmas.forEach((v, i) => {
    if (isGuardVma(v)) return;
    const attrs: Record<string, unknown> = {};
    let path: string | null;
    let dev: string | null = null;
    let inode: number | bigint | null = null;
    if (isFileVma(v)) {
      const file = ctx.writtenFile(Number(v.shmid), name, offset, `vma ${i}`);
      path = file.path;
      inode = file.inode;
      dev = file.dev;
      if (file.deleted) attrs.deleted = true;
    } else {
      path = mm.mmStartStack >= v.start && mm.mmStartStack < v.end ? '[stack]' : specialVmaPath(v.status);
      if (v.status & VMA.ANON_SHARED) {
        attrs.deleted = true;
        inode = int64(v.shmid);
      } else {
        // private anonymous memory and the kernel's own areas: /proc shows 00:00 0
        dev = '0:0';
        inode = 0;
      }
    }
    const guard = guards.get(v);
    if (guard) attrs.guard = guard;
    ctx.w.addMap({
      mm: mmObject, start: v.start, end: v.end, perms: vmaPerms(v.prot, v.flags), pgoff: int64(v.pgoff), dev, inode, path,
      attrs: Object.keys(attrs).length ? attrs : undefined,
    });
    n++;
  });
  return n;
}

/** mm-PID.img: the vmas of the process's address space, each with its maps row's end, perms and offset. */
export function exportMm(ex: ExportContext, img: OriginalImage): Buffer | null {
  return rebuildTaskImage(ex, img, mm_entrySchema, (pid, task, mm) => {
    const rows = new Map((task.mm_key ? ex.rows.maps.get(task.mm_key) ?? [] : []).map((r) => [r.start_addr, r]));
    const before = mm.vmas.length;
    let changed = false;
    const kept = new Set<vma_entry>();
    mm.vmas = mm.vmas.filter((v) => {
      if (isGuardVma(v)) return true;
      const row = rows.get(addressText(v.start, 'vma start'));
      if (!row) return false;
      rows.delete(row.start_addr);
      kept.add(v);
      changed = overlay(v, VMA_BINDINGS, row, `map ${row.start_addr} of task ${pid}`) || changed;
      return true;
    });
    // a guard region goes with the map it lies in
    mm.vmas = mm.vmas.filter((v) => !isGuardVma(v) || [...kept].some((k) => k.start <= v.start && v.end <= k.end));
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
