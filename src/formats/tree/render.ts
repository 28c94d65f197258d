/**
 * What each record of the restore image becomes in the proposal's tree (layout.ts): the
 * directory it lives in, and the files, directories and links it puts there. The one
 * definition of the tree: exportTree writes it out, and `ckptdb mount` serves it,
 * record by record, as it is read.
 */
import type { FileDetailRecord, ImageRecord } from '../image/types.js';
import {
  CHECKPOINT_FIELDS, CRIU_DIR, CRIU_IMAGE_FIELDS, DETAIL_DIRS, FD_FIELDS, FILE_FIELDS, MAP_FIELDS, OBJECT_FIELDS, RLIMIT_FIELDS, SOCKET_FIELDS,
  TASK_FIELDS, TREE_FORMAT, TREE_VERSION, valueText, type TreeField,
} from './layout.js';

export type TreeItem =
  | { type: 'file'; data: string | Uint8Array }
  | { type: 'dir'; items: TreeItems }
  | { type: 'link'; target: string };

/** Names and what they are, in the order they are written. */
export type TreeItems = [name: string, item: TreeItem][];

export interface PlacedRecord {
  /** The directory the items go in, as path components under checkpoint-ID/. */
  at: string[];
  items: TreeItems;
}

export const OBJECTS_DIR = 'objects';
export const FILES_DIR = 'files';
export const CHUNKS_DIR = 'chunks';
export const IMAGES_DIR = 'images';
export const NS_DIR = 'ns';
export const RLIMITS_DIR = 'rlimits';
export const FDS_DIR = 'fds';
export const MAPS_DIR = 'maps';
export const SOCKET_DIR = 'socket';

export const taskDirName = (pid: number): string => `task-${pid}`;
/** A CRIU file's directory under criu/images/: its name, which may hold slashes, as one component. */
export const imageDirName = (name: string): string => encodeURIComponent(name);
/** Where a task's fds and maps links point, from its own directory. */
export const fdsLink = (fdtable: number): string => `../${OBJECTS_DIR}/${fdtable}/${FDS_DIR}`;
export const mapsLink = (mm: number): string => `../${OBJECTS_DIR}/${mm}/${MAPS_DIR}`;

/** The record's place in the tree and what it puts there. */
export function placeRecord(r: ImageRecord): PlacedRecord {
  switch (r.record) {
    case 'checkpoint':
      return { at: [], items: [file('format', TREE_FORMAT), file('version', String(TREE_VERSION)), ...fieldItems(r, CHECKPOINT_FIELDS)] };
    case 'object': {
      const items = fieldItems(r, OBJECT_FIELDS);
      if (r.socket) items.push(dir(SOCKET_DIR, fieldItems(r.socket, SOCKET_FIELDS)));
      // There even when empty, so the tasks' links to them resolve.
      if (r.kind === 'fdtable') items.push(dir(FDS_DIR, []));
      if (r.kind === 'mm') items.push(dir(MAPS_DIR, []));
      return { at: [OBJECTS_DIR, String(r.id)], items };
    }
    case 'file':
      return { at: [FILES_DIR, String(r.id)], items: fieldItems(r, FILE_FIELDS) };
    case 'task': {
      const items = fieldItems(r, TASK_FIELDS);
      const namespaces = Object.entries(r.namespaces);
      if (namespaces.length) items.push(dir(NS_DIR, namespaces.map(([type, id]) => file(type, String(id)))));
      if (r.rlimits.length) items.push(dir(RLIMITS_DIR, r.rlimits.map((l) => dir(l.resource, fieldItems(l, RLIMIT_FIELDS)))));
      if (r.fdtable !== null) items.push([FDS_DIR, { type: 'link', target: fdsLink(r.fdtable) }]);
      if (r.mm !== null) items.push([MAPS_DIR, { type: 'link', target: mapsLink(r.mm) }]);
      return { at: [taskDirName(r.pid)], items };
    }
    case 'fd':
      return { at: [OBJECTS_DIR, String(r.fdtable), FDS_DIR, String(r.fd)], items: fieldItems(r, FD_FIELDS) };
    case 'map':
      return { at: [OBJECTS_DIR, String(r.mm), MAPS_DIR, r.start], items: fieldItems(r, MAP_FIELDS) };
    case 'eventfd':
    case 'epollTarget':
    case 'inotifyWatch':
    case 'timerfd':
    case 'signalfd':
    case 'tty':
      return { at: [FILES_DIR, String(r.file), ...detailPath(r)], items: fieldItems(r, DETAIL_DIRS[r.record].fields) };
    case 'criuChunk':
      return { at: [CRIU_DIR, CHUNKS_DIR], items: [[String(r.id), { type: 'file', data: Buffer.from(r.data, 'base64') }]] };
    case 'criuImage':
      return { at: [CRIU_DIR, IMAGES_DIR, imageDirName(r.name)], items: fieldItems(r, CRIU_IMAGE_FIELDS) };
  }
}

/** Where under files/K/ a detail of an anonymous file goes: its folder, and the seq or wd naming it there. */
export function detailPath(r: FileDetailRecord): string[] {
  const d = DETAIL_DIRS[r.record];
  return d.keyed === null ? [d.dir] : [d.dir, String((r as unknown as Record<string, number>)[d.keyed])];
}

/** A file per field that has a value, in the order of the fields. */
export function fieldItems(values: object, fields: readonly TreeField[]): TreeItems {
  const v = values as Record<string, unknown>;
  const items: TreeItems = [];
  for (const field of fields) {
    const text = valueText(v[field.key], field.kind);
    if (text !== undefined) items.push(file(field.file, text));
  }
  return items;
}

const file = (name: string, data: string): [string, TreeItem] => [name, { type: 'file', data }];
const dir = (name: string, items: TreeItems): [string, TreeItem] => [name, { type: 'dir', items }];
