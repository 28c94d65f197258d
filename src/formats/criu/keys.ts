/**
 * The shared-object keys a CRIU checkpoint's objects get. CRIU names kernel objects by
 * ids of its own (file ids, vm/files/fs/sighand ids, namespace ids); the key keeps that
 * id, so export finds the image entry a row came from, and a row pointed at another
 * object of the checkpoint exports with that object's id.
 */
import type { NamespaceType, TaskObjectKind } from '../../store/writer/types.js';

export const fileKey = (id: number) => `file:${id}`;

const TASK_OBJECT_PREFIX: Record<TaskObjectKind, string> = { mm: 'vm', fdtable: 'files', fs: 'fs', sighand: 'sighand' };

export const taskObjectKey = (kind: TaskObjectKind, id: number) => `${TASK_OBJECT_PREFIX[kind]}:${id}`;
export const namespaceKey = (type: NamespaceType, id: number) => `${type}:${id}`;

export const pipeKey = (pipeId: number) => `pipe:[${pipeId}]`;
export const socketKey = (ino: number) => `socket:[${ino}]`;
/** Packet sockets have no inode number in CRIU's images: the file id stands in. */
export const packetSocketKey = (fileId: number) => `socket:packet-${fileId}`;
export const pathInodeKey = (mntId: number, path: string) => `path:${mntId}:${path}`;
export const memfdInodeKey = (inodeId: number) => `memfd:${inodeId}`;

/** The CRIU id in a key made by the functions above, or null for a key of another shape. */
export function idOfKey(key: string, prefix: string): number | null {
  const m = /^([a-z_]+):(\d+)$/.exec(key);
  if (!m || m[1] !== prefix) return null;
  const n = Number(m[2]);
  return n <= 0xffffffff ? n : null;
}

export const taskObjectId = (kind: TaskObjectKind, key: string) => idOfKey(key, TASK_OBJECT_PREFIX[kind]);
export const fileIdOfKey = (key: string) => idOfKey(key, 'file');
