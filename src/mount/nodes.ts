/**
 * Node ids of the mounted tree. Each names what it is, so the server keeps no table of
 * the nodes the kernel holds (memory stays flat however much of the tree is walked):
 * a kind, a number `a` (a row id of the store, or a checkpoint id) and a small number
 * `b` (which file of a record's directory, which namespace of a task, ...), packed into
 * 53 bits so that they travel as plain numbers.
 *
 * Row ids can come back after their checkpoint is removed, and so can a checkpoint's
 * id; the generation the kernel gets with each node (the checkpoint's commit) tells
 * such nodes apart.
 */

export const KIND = {
  /** The root (1) and /latest (2). */
  TOP: 0,
  CHECKPOINT: 1,
  CHECKPOINT_ITEM: 2,
  OBJECTS: 3,
  FILES: 4,
  CRIU: 5,
  CHUNKS: 6,
  IMAGES: 7,
  CRIU_FILES: 8,
  OBJECT: 9,
  OBJECT_ITEM: 10,
  SOCKET: 11,
  SOCKET_ITEM: 12,
  OBJECT_FDS: 13,
  OBJECT_MAPS: 14,
  FILE: 15,
  FILE_ITEM: 16,
  FD: 17,
  FD_ITEM: 18,
  MAP: 19,
  MAP_ITEM: 20,
  TASK: 21,
  TASK_ITEM: 22,
  NS: 23,
  NS_ITEM: 24,
  RLIMITS: 25,
  RLIMIT: 26,
  RLIMIT_ITEM: 27,
  IMAGE: 28,
  IMAGE_ITEM: 29,
  CRIU_FILE: 30,
  CRIU_SUBDIR: 31,
  /** a: the checkpoint id and the chunk's number in it, see chunkNode. */
  CHUNK: 32,
  /** files/K/eventfd/, files/K/epoll/, ...: a is the file, b which detail (DETAIL_DIRS order). */
  FILE_DETAIL: 33,
  /** A field of an unkeyed detail: b is the detail times 8 plus the field. */
  FILE_DETAIL_ITEM: 34,
  /** files/K/epoll/SEQ/, files/K/inotify/WD/: see detailEntryNode. */
  DETAIL_ENTRY: 35,
  /** The fields of those, one kind per field: DETAIL_ENTRY_ITEM + its index. */
  DETAIL_ENTRY_ITEM: 36,
} as const;

export type Kind = (typeof KIND)[keyof typeof KIND] | number;

const A = 2 ** 40;
const B = 128;

export const ROOT = 1;
export const LATEST = 2;

export function nodeId(kind: Kind, a: number, b = 0): number {
  if (a < 0 || a >= A || b < 0 || b >= B) throw new RangeError(`node ${kind}/${a}/${b} cannot be numbered`);
  return (kind * A + a) * B + b;
}

export interface ParsedNode {
  kind: Kind;
  a: number;
  b: number;
}

export function parseNode(id: number): ParsedNode {
  const b = id % B;
  const rest = (id - b) / B;
  const a = rest % A;
  return { kind: ((rest - a) / A) as Kind, a, b };
}

/** A chunk of a checkpoint's CRIU files by its number there: checkpoint ids below 2^20, numbers below 2^27 (512 GiB). */
const CHUNK_NUMBER = 2 ** 27;
const CHUNK_CHECKPOINT = 2 ** 20;

export function chunkNode(checkpointId: number, n: number): number {
  if (checkpointId >= CHUNK_CHECKPOINT || n >= CHUNK_NUMBER) throw new RangeError(`chunk ${n} of checkpoint ${checkpointId} cannot be numbered`);
  const packed = checkpointId * CHUNK_NUMBER + n;
  return nodeId(KIND.CHUNK, Math.floor(packed / B), packed % B);
}

export function parseChunkNode(p: ParsedNode): { checkpointId: number; n: number } {
  const packed = p.a * B + p.b;
  return { checkpointId: Math.floor(packed / CHUNK_NUMBER), n: packed % CHUNK_NUMBER };
}

/**
 * An epoll's target or an inotify's watch (keyed: 0, 1) of file fileId (a row id below
 * 2^32) by its place among them (below 2^14); with a field, one of its files.
 */
const ENTRY_PLACE = 2 ** 14;

export function detailEntryNode(fileId: number, keyed: number, place: number, field: number | null = null): number {
  if (fileId >= 2 ** 32 || place >= ENTRY_PLACE) throw new RangeError(`entry ${place} of file ${fileId} cannot be numbered`);
  const packed = (fileId * 2 + keyed) * ENTRY_PLACE + place;
  return nodeId(field === null ? KIND.DETAIL_ENTRY : KIND.DETAIL_ENTRY_ITEM + field, Math.floor(packed / B), packed % B);
}

export function parseDetailEntryNode(p: ParsedNode): { fileId: number; keyed: number; place: number; field: number | null } {
  const packed = p.a * B + p.b;
  const place = packed % ENTRY_PLACE;
  const rest = (packed - place) / ENTRY_PLACE;
  return { fileId: Math.floor(rest / 2), keyed: rest % 2, place, field: p.kind === KIND.DETAIL_ENTRY ? null : p.kind - KIND.DETAIL_ENTRY_ITEM };
}
