/**
 * inventory.img: the image version and how the dump was taken. Its fields become the
 * checkpoint's meta.criu.inventory.
 */
import { isFieldSet } from '@bufbuild/protobuf';
import { badImage } from '../imageFile.js';
import { IMAGES_V1, IMAGES_V1_1 } from '../magic.js';
import { inventory_entrySchema, type inventory_entry } from '../gen/inventory_pb.js';
import type { ImportContext } from './context.js';

export interface InventoryMeta {
  img_version: number;
  fdinfo_per_id: boolean;
  ns_per_id?: boolean;
  root_cg_set?: number;
  lsmtype?: number;
  dump_uptime?: number | string;
  pre_dump_mode?: number;
  tcp_close?: boolean;
  network_lock_method?: number;
}

export function readInventory(ctx: ImportContext): { inventory: inventory_entry; meta: InventoryMeta } {
  const inv = ctx.decodeOne('inventory.img', inventory_entrySchema);
  if (!inv) throw badImage(ctx.where('inventory.img'), 0, 'missing: a CRIU image directory starts with inventory.img');
  const m = inv.msg;
  const where = ctx.where('inventory.img');
  if (m.imgVersion > IMAGES_V1_1) throw badImage(where, inv.entry.offset, `image version ${m.imgVersion} is newer than this ckptdb reads (${IMAGES_V1_1})`);
  if (m.imgVersion < IMAGES_V1) throw badImage(where, inv.entry.offset, `image version ${m.imgVersion} is not one CRIU writes`);
  const set = (f: keyof typeof inventory_entrySchema.field) => isFieldSet(m, inventory_entrySchema.field[f]!);
  const meta: InventoryMeta = { img_version: m.imgVersion, fdinfo_per_id: m.fdinfoPerId };
  if (set('nsPerId')) meta.ns_per_id = m.nsPerId;
  if (set('rootCgSet')) meta.root_cg_set = m.rootCgSet;
  if (set('lsmtype')) meta.lsmtype = m.lsmtype;
  if (set('dumpUptime')) meta.dump_uptime = m.dumpUptime <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.dumpUptime) : String(m.dumpUptime);
  if (set('preDumpMode')) meta.pre_dump_mode = m.preDumpMode;
  if (set('tcpClose')) meta.tcp_close = m.tcpClose;
  if (set('networkLockMethod')) meta.network_lock_method = m.networkLockMethod;
  return { inventory: m, meta };
}
