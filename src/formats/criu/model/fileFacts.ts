/**
 * What CRIU writes about open files beside files.img, read (never rebuilt) for the rows:
 * the inodes of memfds and shared anonymous memory (memfd.img), the files whose path is
 * gone (remap-fpath.img, with ghost-file-N.img holding a deleted file's device and
 * inode), and the ttys (tty-info.img).
 */
import { ghost_file_entrySchema } from '../gen/payload_pb.js';
import { memfd_inode_entrySchema, remap_file_path_entrySchema, tty_info_entrySchema, type memfd_inode_entry, type tty_info_entry } from '../gen/files_pb.js';
import { kernelDevText } from '../values.js';
import type { ImportContext } from './context.js';

/** remap_file_path_entry.remap_type */
const REMAP_LINKED = 0;
const REMAP_GHOST = 1;

export interface DeletedFile {
  /** 'major:minor' and inode number, where a ghost image keeps them. */
  dev: string | null;
  inode: number | bigint | null;
}

export interface FileFacts {
  /** memfd inode_id -> its inode entry. */
  memfds: Map<number, memfd_inode_entry>;
  /** CRIU file id of a file whose path was unlinked -> what is known of its inode. */
  deleted: Map<number, DeletedFile>;
  /** tty-info id -> entry. */
  ttys: Map<number, tty_info_entry>;
}

/** Images read for these facts: kept as they are, decoded on import. */
export const FILE_FACT_IMAGES = /^(memfd|remap-fpath|tty-info)\.img$|^ghost-file-\d+\.img$/;

export function readFileFacts(ctx: ImportContext): FileFacts {
  const memfds = new Map<number, memfd_inode_entry>();
  for (const { msg } of ctx.decodeEach('memfd.img', memfd_inode_entrySchema)) memfds.set(msg.inodeId, msg);
  const deleted = new Map<number, DeletedFile>();
  for (const { msg } of ctx.decodeEach('remap-fpath.img', remap_file_path_entrySchema)) {
    if (msg.remapType === REMAP_GHOST) deleted.set(msg.origId, ghost(ctx, msg.remapId));
    else if (msg.remapType === REMAP_LINKED) deleted.set(msg.origId, { dev: null, inode: null });
  }
  const ttys = new Map<number, tty_info_entry>();
  for (const { msg } of ctx.decodeEach('tty-info.img', tty_info_entrySchema)) ttys.set(msg.id, msg);
  return { memfds, deleted, ttys };
}

function ghost(ctx: ImportContext, id: number): DeletedFile {
  const img = ctx.images.get(`ghost-file-${id}.img`);
  const first = img?.entries[0];
  if (!img || !first) return { dev: null, inode: null };
  const g = ctx.decodeOneOf(first, ghost_file_entrySchema, img.where);
  const dev = g.dev ? kernelDevText(g.dev) : null;
  const inode = g.ino ? (g.ino <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g.ino) : g.ino) : null;
  return { dev, inode };
}
