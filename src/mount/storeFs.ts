/**
 * A store as the proposal's tree, as the kernel asks for it: the layout, names and bytes
 * of `export --format tree` (formats/tree/render.ts places every record for both), one
 * checkpoint-ID/ for each checkpoint, /latest, and beyond the export a CRIU checkpoint's
 * files under criu/files/ and each process's memory as task-PID/mem. The store is read
 * through reader.ts; nodes are numbered by nodes.ts.
 *
 * Everything under checkpoint-ID/ is immutable, so the kernel may keep its names,
 * attributes and pages for as long as it likes. Only the root changes: the kernel asks
 * for its attributes every time (its mtime changes with its names, which makes the
 * kernel list it anew), and for a name in it every second.
 */
import type Database from 'better-sqlite3';
import {
  CHECKPOINT_FIELDS, CRIU_DIR, CRIU_IMAGE_FIELDS, DETAIL_DIRS, DONE, FD_FIELDS, FILE_FIELDS, MAP_FIELDS, OBJECT_FIELDS, RLIMIT_FIELDS, SOCKET_FIELDS,
  TASK_FIELDS, type DetailType, type TreeField,
} from '../formats/tree/layout.js';
import {
  CHUNKS_DIR, FDS_DIR, FILES_DIR, IMAGES_DIR, MAPS_DIR, NS_DIR, OBJECTS_DIR, RLIMITS_DIR, SOCKET_DIR, detailPath, imageDirName, placeRecord,
  taskDirName, type TreeItem, type TreeItems,
} from '../formats/tree/render.js';
import {
  KIND, LATEST, ROOT, chunkNode, detailEntryNode, nodeId, parseChunkNode, parseDetailEntryNode, parseNode, type Kind, type ParsedNode,
} from './nodes.js';
import { S_IFDIR, S_IFLNK, S_IFREG, SEEK_DATA, type Attr, type Entry } from './protocol.js';
import { StoreReader, type Incarnation, type Placed } from './reader.js';
import type { DirEntry, FileSystem } from './session.js';

/** How long the kernel may keep what never changes: a committed checkpoint. */
const FOREVER = 24 * 3600;
/** Names in the root: a removed checkpoint's name is gone within this many seconds. */
const ROOT_NAMES = 1;
/** How often requests below the root look for commits of other connections. */
const REFRESH_MS = 100;
/** Offsets of a checkpoint's tasks in its listing: above every fixed entry's. */
const TASK_OFFSET = 100;

/** Where the files CRIU wrote are, under criu/, beside the export's chunks/ and images/. */
export const CRIU_FILES_DIR = 'files';
/** A process's memory at its virtual addresses, in task-PID/ of a CRIU checkpoint. */
export const MEM_FILE = 'mem';

const names = (fields: readonly TreeField[]) => fields.map((f) => f.file);
/** The files a record's directory can hold; the node of one is its index here. */
const ITEM_NAMES: Partial<Record<Kind, readonly string[]>> = {
  [KIND.CHECKPOINT_ITEM]: ['format', 'version', ...names(CHECKPOINT_FIELDS), DONE],
  [KIND.OBJECT_ITEM]: names(OBJECT_FIELDS),
  [KIND.SOCKET_ITEM]: names(SOCKET_FIELDS),
  [KIND.FILE_ITEM]: names(FILE_FIELDS),
  [KIND.FD_ITEM]: names(FD_FIELDS),
  [KIND.MAP_ITEM]: names(MAP_FIELDS),
  [KIND.TASK_ITEM]: [...names(TASK_FIELDS), FDS_DIR, MAPS_DIR, MEM_FILE],
  [KIND.RLIMIT_ITEM]: names(RLIMIT_FIELDS),
  [KIND.IMAGE_ITEM]: names(CRIU_IMAGE_FIELDS),
};
const MEM_ITEM = ITEM_NAMES[KIND.TASK_ITEM]!.indexOf(MEM_FILE);

/** The kind of the files of a record directory's kind, and back. */
const ITEM_OF: Partial<Record<Kind, Kind>> = {
  [KIND.CHECKPOINT]: KIND.CHECKPOINT_ITEM,
  [KIND.OBJECT]: KIND.OBJECT_ITEM,
  [KIND.SOCKET]: KIND.SOCKET_ITEM,
  [KIND.FILE]: KIND.FILE_ITEM,
  [KIND.FD]: KIND.FD_ITEM,
  [KIND.MAP]: KIND.MAP_ITEM,
  [KIND.TASK]: KIND.TASK_ITEM,
  [KIND.NS]: KIND.NS_ITEM,
  [KIND.RLIMIT]: KIND.RLIMIT_ITEM,
  [KIND.IMAGE]: KIND.IMAGE_ITEM,
};
const DIR_OF: Partial<Record<Kind, Kind>> = Object.fromEntries(Object.entries(ITEM_OF).map(([dir, item]) => [item, Number(dir)]));

/** The folders inside a record's directory, by name. */
const SUBDIR: Partial<Record<Kind, Record<string, Kind>>> = {
  [KIND.OBJECT]: { [SOCKET_DIR]: KIND.SOCKET, [FDS_DIR]: KIND.OBJECT_FDS, [MAPS_DIR]: KIND.OBJECT_MAPS },
  [KIND.TASK]: { [NS_DIR]: KIND.NS, [RLIMITS_DIR]: KIND.RLIMITS },
};

/** The details an open file can have (files/K/eventfd/, files/K/epoll/SEQ/, ...), in the order nodes number them. */
const DETAILS = Object.keys(DETAIL_DIRS) as DetailType[];
const DETAIL_BY_DIR = new Map<string, number>(DETAILS.map((t, i) => [DETAIL_DIRS[t].dir, i]));
/** The details with a folder per entry (epoll targets by seq, inotify watches by wd). */
const KEYED = DETAILS.filter((t) => DETAIL_DIRS[t].keyed !== null);
const detailFields = (t: DetailType) => names(DETAIL_DIRS[t].fields);

/** Kinds of nodes that are files or links of a record's directory. */
const isItemKind = (kind: Kind) => DIR_OF[kind] !== undefined || kind === KIND.FILE_DETAIL_ITEM || kind >= KIND.DETAIL_ENTRY_ITEM;

/** What a node is, as stat shows it, and where it belongs. */
interface Info {
  id: number;
  type: 'dir' | 'file' | 'link';
  size: number;
  /** Bytes it holds, for a sparse file (mem); else its size. */
  stored?: number;
  /** The checkpoint it belongs to, null for the root and /latest. */
  checkpointId: number | null;
}

interface Child {
  name: string;
  next: number;
  info: Info;
}

/** A directory: its children after an offset, and one by name. */
interface Dir {
  list(offset: number): Iterable<Child>;
  lookup(name: string): Info | null;
}

/** What a record puts in its directory, with the checkpoint it belongs to. */
interface RecordDir {
  items: TreeItems;
  checkpointId: number;
}

export interface StoreFsOptions {
  uid: number;
  gid: number;
}

export class StoreFs implements FileSystem {
  private readonly r: StoreReader;
  private checkedAt = -Infinity;

  constructor(db: Database.Database, private readonly opts: StoreFsOptions) {
    this.r = new StoreReader(db);
  }

  lookup(parent: number, name: string): Entry | null {
    this.refresh(parent);
    const info = this.dir(parent)?.lookup(name) ?? null;
    return info && this.entry(info);
  }

  getattr(node: number): { attr: Attr; timeout: number } | null {
    this.refresh(node);
    const info = this.info(node);
    return info && { attr: this.attr(info), timeout: attrTimeout(info) };
  }

  readlink(node: number): string | null {
    this.refresh(node);
    if (node === LATEST) return this.r.newest === null ? null : `checkpoint-${this.r.newest}`;
    const item = this.itemAt(parseNode(node))?.item;
    return item?.type === 'link' ? item.target : null;
  }

  read(node: number, offset: number, size: number): Buffer | null {
    this.refresh(node);
    const p = parseNode(node);
    if (p.kind === KIND.CRIU_FILE) {
      const file = this.r.keptFile(p.a);
      return file && this.r.readKeptFile(file, offset, size);
    }
    if (p.kind === KIND.CHUNK) {
      const chunk = this.chunkOf(p);
      return chunk === null ? null : this.r.chunk(chunk).subarray(offset, offset + size);
    }
    if (p.kind === KIND.TASK_ITEM && p.b === MEM_ITEM) return this.r.memory(p.a)?.read(offset, size) ?? null;
    const item = this.itemAt(p)?.item;
    if (item?.type !== 'file') return null;
    const data = typeof item.data === 'string' ? Buffer.from(item.data) : Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength);
    return data.subarray(offset, offset + size);
  }

  readdir(node: number, offset: number): Iterable<DirEntry> | null {
    this.refresh(node);
    const dir = this.dir(node);
    return dir && this.entries(dir.list(offset));
  }

  seek(node: number, offset: number, whence: number): number | null {
    this.refresh(node);
    const p = parseNode(node);
    if (p.kind === KIND.TASK_ITEM && p.b === MEM_ITEM) {
      const mem = this.r.memory(p.a);
      return mem && (whence === SEEK_DATA ? mem.nextData(offset) : mem.nextHole(offset));
    }
    const info = this.info(node);
    if (!info || offset >= info.size) return null;
    return whence === SEEK_DATA ? offset : info.size;
  }

  statfs(): { blocks: number; files: number } {
    return { blocks: 0, files: 0 };
  }

  /**
   * Catches up with other connections' commits on every request about the root or
   * /latest, and at most every REFRESH_MS on others: nothing under a checkpoint changes
   * but its removal, which the kernel learns from the root.
   */
  private refresh(node: number): void {
    const now = performance.now();
    if (node > LATEST && now - this.checkedAt < REFRESH_MS) return;
    this.checkedAt = now;
    this.r.refresh();
  }

  /** The listing as the session takes it: one entry object, filled anew for each (see FileSystem.readdir). */
  private *entries(list: Iterable<Child>): Generator<DirEntry> {
    const d: DirEntry = { name: '', next: 0, entry: this.entry({ id: ROOT, type: 'dir', size: 0, checkpointId: null }) };
    for (const c of list) {
      d.name = c.name;
      d.next = c.next;
      this.entry(c.info, d.entry);
      yield d;
    }
  }

  // --- what the kernel sees of a node

  private entry(info: Info, into?: Entry): Entry {
    const e = into ?? { nodeid: 0, generation: 0, entryTimeout: 0, attrTimeout: 0, attr: blankAttr() };
    e.nodeid = info.id;
    e.generation = info.checkpointId === null ? 0 : this.r.incarnation(info.checkpointId)?.generation ?? 0;
    e.entryTimeout = info.checkpointId === null || parseNode(info.id).kind === KIND.CHECKPOINT ? ROOT_NAMES : FOREVER;
    e.attrTimeout = attrTimeout(info);
    this.attr(info, e.attr);
    return e;
  }

  private attr(info: Info, into: Attr = blankAttr()): Attr {
    const t: Incarnation = info.checkpointId === null ? this.r.rootTime : this.r.incarnation(info.checkpointId) ?? this.r.rootTime;
    into.ino = info.id;
    into.size = info.size;
    into.mode = info.type === 'dir' ? S_IFDIR | 0o700 : info.type === 'link' ? S_IFLNK | 0o777 : S_IFREG | 0o600;
    into.nlink = info.type === 'dir' ? 2 : 1;
    into.uid = this.opts.uid;
    into.gid = this.opts.gid;
    into.blocks = Math.ceil((info.stored ?? info.size) / 512);
    into.mtimeSec = t.sec;
    into.mtimeNsec = t.nsec;
    return into;
  }

  /** What a node is; null when it is gone (its checkpoint was removed). */
  private info(node: number): Info | null {
    if (node === ROOT) return { id: ROOT, type: 'dir', size: 0, checkpointId: null };
    if (node === LATEST) return this.r.newest === null ? null : { id: LATEST, type: 'link', size: `checkpoint-${this.r.newest}`.length, checkpointId: null };
    const p = parseNode(node);
    switch (p.kind) {
      case KIND.CHECKPOINT:
      case KIND.OBJECTS:
      case KIND.FILES:
      case KIND.CRIU:
      case KIND.CHUNKS:
      case KIND.IMAGES:
      case KIND.CRIU_FILES:
        return this.r.incarnation(p.a) ? dirInfo(node, p.a) : null;
      case KIND.CHUNK: {
        const chunk = this.chunkOf(p);
        return chunk === null ? null : { id: node, type: 'file', size: this.r.chunk(chunk).length, checkpointId: parseChunkNode(p).checkpointId };
      }
      case KIND.CRIU_FILE: {
        const file = this.r.keptFile(p.a);
        return file && { id: node, type: 'file', size: file.size, checkpointId: file.checkpointId };
      }
      case KIND.CRIU_SUBDIR: {
        const file = this.r.keptFile(p.a);
        return file && dirInfo(node, file.checkpointId);
      }
      case KIND.OBJECT_FDS:
      case KIND.OBJECT_MAPS: {
        const object = this.recordDir({ kind: KIND.OBJECT, a: p.a, b: 0 });
        return object && dirInfo(node, object.checkpointId);
      }
      default: {
        if (isItemKind(p.kind)) {
          const at = this.itemAt(p);
          return at && this.itemInfo(node, at.item, at.checkpointId, p);
        }
        const dir = this.recordDir(p);
        return dir && dirInfo(node, dir.checkpointId);
      }
    }
  }

  private itemInfo(id: number, item: TreeItem, checkpointId: number, p: ParsedNode): Info {
    if (item.type === 'dir') return dirInfo(id, checkpointId);
    if (item.type === 'link') return { id, type: 'link', size: Buffer.byteLength(item.target), checkpointId };
    if (p.kind === KIND.TASK_ITEM && p.b === MEM_ITEM) {
      const mem = this.r.memory(p.a)!;
      return { id, type: 'file', size: mem.size, stored: mem.stored, checkpointId };
    }
    return { id, type: 'file', size: typeof item.data === 'string' ? Buffer.byteLength(item.data) : item.data.byteLength, checkpointId };
  }

  /** A file or link inside a record's directory, by its node. */
  private itemAt(p: ParsedNode): { item: TreeItem; checkpointId: number } | null {
    if (p.kind === KIND.FILE_DETAIL_ITEM) {
      const t = DETAILS[p.b >> 3];
      return t ? this.named(this.recordDir({ kind: KIND.FILE_DETAIL, a: p.a, b: p.b >> 3 }), detailFields(t)[p.b & 7]) : null;
    }
    if (p.kind >= KIND.DETAIL_ENTRY_ITEM) {
      const e = parseDetailEntryNode(p);
      return this.named(this.recordDir({ kind: KIND.DETAIL_ENTRY, a: p.a, b: p.b }), detailFields(KEYED[e.keyed]!)[e.field!]);
    }
    const dirKind = DIR_OF[p.kind];
    if (dirKind === undefined) return null;
    // An rlimit's files carry the rlimit's place in b, beside which of soft and hard.
    const dir = p.kind === KIND.RLIMIT_ITEM ? this.recordDir({ kind: KIND.RLIMIT, a: p.a, b: p.b >> 1 }) : this.recordDir({ kind: dirKind, a: p.a, b: 0 });
    if (!dir) return null;
    return this.named(dir, p.kind === KIND.NS_ITEM ? dir.items[p.b]?.[0] : ITEM_NAMES[p.kind]?.[p.kind === KIND.RLIMIT_ITEM ? p.b & 1 : p.b]);
  }

  private named(dir: RecordDir | null, name: string | undefined): { item: TreeItem; checkpointId: number } | null {
    const found = dir && name !== undefined ? dir.items.find(([n]) => n === name) : undefined;
    return found && found[1].type !== 'dir' ? { item: found[1], checkpointId: dir!.checkpointId } : null;
  }

  /** The node of an item of a record's directory, at its place there. */
  private itemNode(p: ParsedNode, name: string, item: TreeItem, index: number): number {
    if (p.kind === KIND.FILE && item.type === 'dir') return nodeId(KIND.FILE_DETAIL, p.a, DETAIL_BY_DIR.get(name)!);
    if (p.kind === KIND.FILE_DETAIL) {
      const t = DETAILS[p.b]!;
      return item.type === 'dir' ? detailEntryNode(p.a, KEYED.indexOf(t), index) : nodeId(KIND.FILE_DETAIL_ITEM, p.a, p.b * 8 + detailFields(t).indexOf(name));
    }
    if (p.kind === KIND.DETAIL_ENTRY) {
      const e = parseDetailEntryNode(p);
      return detailEntryNode(e.fileId, e.keyed, e.place, detailFields(KEYED[e.keyed]!).indexOf(name));
    }
    if (item.type === 'dir') return p.kind === KIND.RLIMITS ? nodeId(KIND.RLIMIT, p.a, index) : nodeId(SUBDIR[p.kind]![name]!, p.a);
    const kind = ITEM_OF[p.kind]!;
    if (kind === KIND.NS_ITEM) return nodeId(kind, p.a, index);
    if (kind === KIND.RLIMIT_ITEM) return nodeId(kind, p.a, p.b * 2 + ITEM_NAMES[kind]!.indexOf(name));
    return nodeId(kind, p.a, ITEM_NAMES[kind]!.indexOf(name));
  }

  private chunkOf(p: ParsedNode): number | null {
    const { checkpointId, n } = parseChunkNode(p);
    return this.r.chunkByNumber(checkpointId, n);
  }

  // --- records

  /** The items of the record directory a node names. */
  private recordDir(p: { kind: Kind; a: number; b: number }): RecordDir | null {
    switch (p.kind) {
      case KIND.CHECKPOINT: {
        const items = this.r.keep(`C${p.a}`, () => {
          const c = this.r.checkpoint(p.a);
          return c && [...placeRecord(c).items, [DONE, { type: 'file', data: '' }] as [string, TreeItem]];
        });
        return items && { items, checkpointId: p.a };
      }
      case KIND.OBJECT:
        return this.placed(`O${p.a}`, () => this.r.object(p.a));
      case KIND.SOCKET:
        return subItems(this.recordDir({ kind: KIND.OBJECT, a: p.a, b: 0 }), SOCKET_DIR);
      case KIND.FILE:
        return this.r.keep(`F${p.a}`, () => {
          const f = this.r.file(p.a);
          if (!f) return null;
          const items = placeRecord(f.record).items;
          for (const d of f.details) nest(items, detailPath(d), placeRecord(d).items);
          return { items, checkpointId: f.checkpointId };
        });
      case KIND.FILE_DETAIL: {
        const t = DETAILS[p.b];
        return t ? subItems(this.recordDir({ kind: KIND.FILE, a: p.a, b: 0 }), DETAIL_DIRS[t].dir) : null;
      }
      case KIND.DETAIL_ENTRY: {
        const e = parseDetailEntryNode(p);
        const keyed = KEYED[e.keyed];
        const dir = keyed ? this.recordDir({ kind: KIND.FILE_DETAIL, a: e.fileId, b: DETAILS.indexOf(keyed) }) : null;
        const entry = dir?.items[e.place]?.[1];
        return dir && entry?.type === 'dir' ? { items: entry.items, checkpointId: dir.checkpointId } : null;
      }
      case KIND.FD:
        return this.placed(`D${p.a}`, () => this.r.fd(p.a));
      case KIND.MAP:
        return this.placed(`M${p.a}`, () => this.r.map(p.a));
      case KIND.TASK:
        return this.placed(`T${p.a}`, () => this.r.task(p.a), (items) => (this.r.memory(p.a) ? [...items, [MEM_FILE, { type: 'file', data: '' }]] : items));
      case KIND.NS:
        return subItems(this.recordDir({ kind: KIND.TASK, a: p.a, b: 0 }), NS_DIR);
      case KIND.RLIMITS:
        return subItems(this.recordDir({ kind: KIND.TASK, a: p.a, b: 0 }), RLIMITS_DIR);
      case KIND.RLIMIT: {
        const limits = this.recordDir({ kind: KIND.RLIMITS, a: p.a, b: 0 });
        const limit = limits?.items[p.b]?.[1];
        return limits && limit?.type === 'dir' ? { items: limit.items, checkpointId: limits.checkpointId } : null;
      }
      case KIND.IMAGE:
        return this.placed(`I${p.a}`, () => this.r.keptFileRecord(p.a));
      default:
        return null;
    }
  }

  private placed(key: string, read: () => Placed | null, extra?: (items: TreeItems) => TreeItems): RecordDir | null {
    return this.r.keep(key, () => {
      const r = read();
      if (!r) return null;
      const { items } = placeRecord(r.record);
      return { items: extra ? extra(items) : items, checkpointId: r.checkpointId };
    });
  }

  // --- directories

  private dir(node: number): Dir | null {
    if (node === ROOT) return this.rootDir();
    const p = parseNode(node);
    const live = (dir: () => Dir) => (this.r.incarnation(p.a) ? dir() : null);
    switch (p.kind) {
      case KIND.CHECKPOINT:
        return live(() => this.checkpointDir(p.a));
      case KIND.OBJECTS:
      case KIND.FILES:
        return live(() => this.objectsDir(p.a, p.kind === KIND.FILES));
      case KIND.CRIU:
        return live(() => this.criuDir(p.a));
      case KIND.CHUNKS:
        return live(() => this.chunksDir(p.a));
      case KIND.IMAGES:
        return live(() => this.listed(node, () => this.r.keptFiles(p.a).map((f) => [imageDirName(f.name), dirInfo(nodeId(KIND.IMAGE, f.id), p.a)])));
      case KIND.CRIU_FILES:
        return live(() => this.criuFilesDir(node, p.a, ''));
      case KIND.CRIU_SUBDIR: {
        const file = this.r.keptFile(p.a);
        return file && this.criuFilesDir(node, file.checkpointId, file.name.split('/').slice(0, p.b).join('/'));
      }
      case KIND.OBJECT_FDS:
        return this.fdsDir(p.a);
      case KIND.OBJECT_MAPS:
        return this.mapsDir(p.a);
      default: {
        const dir = this.recordDir(p);
        return dir && this.listed(node, () => dir.items.map(([name, item], i) => {
          const id = this.itemNode(p, name, item, i);
          return [name, this.itemInfo(id, item, dir.checkpointId, parseNode(id))];
        }));
      }
    }
  }

  private rootDir(): Dir {
    const r = this.r;
    return {
      *list(offset) {
        if (offset === 2 && r.newest !== null) yield { name: 'latest', next: 3, info: { id: LATEST, type: 'link', size: `checkpoint-${r.newest}`.length, checkpointId: null } };
        for (const { id } of r.checkpointsFrom(offset - 2)) yield { name: `checkpoint-${id}`, next: id + 3, info: dirInfo(nodeId(KIND.CHECKPOINT, id), id) };
      },
      lookup: (name) => {
        if (name === 'latest') return this.info(LATEST);
        const m = /^checkpoint-([1-9][0-9]{0,11})$/.exec(name);
        return m ? this.info(nodeId(KIND.CHECKPOINT, Number(m[1]))) : null;
      },
    };
  }

  private checkpointDir(id: number): Dir {
    const r = this.r;
    const fixed = (): Child[] => this.r.keep(`L${nodeId(KIND.CHECKPOINT, id)}`, () => {
      const dir = this.recordDir({ kind: KIND.CHECKPOINT, a: id, b: 0 });
      if (!dir) return [];
      const p: ParsedNode = { kind: KIND.CHECKPOINT, a: id, b: 0 };
      const items = dir.items.map(([name, item], i) => {
        const node = this.itemNode(p, name, item, i);
        return { name, info: this.itemInfo(node, item, id, parseNode(node)) };
      });
      const parts = r.checkpointParts(id);
      if (parts.objects) items.push({ name: OBJECTS_DIR, info: dirInfo(nodeId(KIND.OBJECTS, id), id) });
      if (parts.files) items.push({ name: FILES_DIR, info: dirInfo(nodeId(KIND.FILES, id), id) });
      if (parts.criu) items.push({ name: CRIU_DIR, info: dirInfo(nodeId(KIND.CRIU, id), id) });
      return items.map((c, i) => ({ ...c, next: i + 3 }));
    })!;
    const task = (taskId: number) => dirInfo(nodeId(KIND.TASK, taskId), id);
    return {
      *list(offset) {
        if (offset < TASK_OFFSET) yield* fixed().slice(offset - 2);
        for (const t of r.tasksFrom(id, Math.max(0, offset - TASK_OFFSET))) yield { name: taskDirName(t.pid), next: TASK_OFFSET + t.pid + 1, info: task(t.id) };
      },
      lookup: (name) => {
        const m = /^task-([0-9]{1,10})$/.exec(name);
        if (!m) return fixed().find((c) => c.name === name)?.info ?? null;
        const t = r.taskByPid(id, Number(m[1]));
        return t === null ? null : task(t);
      },
    };
  }

  private objectsDir(id: number, files: boolean): Dir {
    const r = this.r;
    r.number(id);
    const kind = files ? KIND.FILE : KIND.OBJECT;
    return {
      *list(offset) {
        for (const o of r.objectsFrom(id, offset - 2, files)) yield { name: String(o.image_id), next: o.image_id + 3, info: dirInfo(nodeId(kind, o.object_id), id) };
      },
      lookup: (name) => {
        const object = /^[1-9][0-9]{0,14}$/.test(name) ? r.objectByImage(id, Number(name), files) : null;
        return object === null ? null : dirInfo(nodeId(kind, object), id);
      },
    };
  }

  private fdsDir(fdtable: number): Dir | null {
    const r = this.r;
    const object = this.recordDir({ kind: KIND.OBJECT, a: fdtable, b: 0 });
    if (!object) return null;
    return {
      *list(offset) {
        for (const d of r.fdsFrom(object.checkpointId, fdtable, offset - 2)) yield { name: String(d.fd), next: d.fd + 3, info: dirInfo(nodeId(KIND.FD, d.id), object.checkpointId) };
      },
      lookup: (name) => {
        const fd = /^(0|[1-9][0-9]{0,9})$/.test(name) ? r.fdByNumber(object.checkpointId, fdtable, Number(name)) : null;
        return fd === null ? null : dirInfo(nodeId(KIND.FD, fd), object.checkpointId);
      },
    };
  }

  private mapsDir(mm: number): Dir | null {
    const r = this.r;
    const object = this.recordDir({ kind: KIND.OBJECT, a: mm, b: 0 });
    if (!object) return null;
    return {
      *list(offset) {
        let i = 0;
        for (const m of r.mapsOf(object.checkpointId, mm)) if (i++ >= offset - 2) yield { name: m.start_addr, next: i + 2, info: dirInfo(nodeId(KIND.MAP, m.id), object.checkpointId) };
      },
      lookup: (name) => {
        const map = r.mapByStart(object.checkpointId, mm, name);
        return map === null ? null : dirInfo(nodeId(KIND.MAP, map), object.checkpointId);
      },
    };
  }

  private criuDir(id: number): Dir {
    return this.listed(nodeId(KIND.CRIU, id), () => {
      this.r.number(id);
      const items: [string, Info][] = [];
      if (this.r.chunkByNumber(id, 1) !== null) items.push([CHUNKS_DIR, dirInfo(nodeId(KIND.CHUNKS, id), id)]);
      items.push([IMAGES_DIR, dirInfo(nodeId(KIND.IMAGES, id), id)], [CRIU_FILES_DIR, dirInfo(nodeId(KIND.CRIU_FILES, id), id)]);
      return items;
    });
  }

  private chunksDir(id: number): Dir {
    const r = this.r;
    r.number(id);
    const info = (n: number, chunk: number): Info => ({ id: chunkNode(id, n), type: 'file', size: r.chunk(chunk).length, checkpointId: id });
    return {
      *list(offset) {
        for (const c of r.chunksFrom(id, offset - 2)) yield { name: String(c.n), next: c.n + 3, info: info(c.n, c.chunk_id) };
      },
      lookup: (name) => {
        const chunk = /^[1-9][0-9]{0,14}$/.test(name) ? r.chunkByNumber(id, Number(name)) : null;
        return chunk === null ? null : info(Number(name), chunk);
      },
    };
  }

  /** criu/files/ and its folders (a container archive's files may sit in folders): the files under prefix. */
  private criuFilesDir(node: number, id: number, prefix: string): Dir {
    return this.listed(node, () => {
      const depth = prefix === '' ? 0 : prefix.split('/').length;
      const items: [string, Info][] = [];
      const seen = new Set<string>();
      for (const f of this.r.keptFiles(id)) {
        if (prefix !== '' && !f.name.startsWith(`${prefix}/`)) continue;
        const parts = f.name.split('/');
        const name = parts[depth]!;
        if (seen.has(name) || name === '' || name === '.' || name === '..') continue;
        seen.add(name);
        items.push([name, parts.length > depth + 1 ? dirInfo(nodeId(KIND.CRIU_SUBDIR, f.id, depth + 1), id) : { id: nodeId(KIND.CRIU_FILE, f.id), type: 'file', size: f.size, checkpointId: id }]);
      }
      return items;
    });
  }

  /**
   * A small directory listed whole, offsets being positions. The listing is kept, for
   * the request that follows each listing (the kernel asks past its end to learn that it
   * is the end) and for lookups.
   */
  private listed(node: number, entries: () => [string, Info][]): Dir {
    const all = () => this.r.keep(`L${node}`, entries)!;
    return {
      *list(offset) {
        const items = all();
        for (let i = offset - 2; i < items.length; i++) yield { name: items[i]![0], next: i + 3, info: items[i]![1] };
      },
      lookup: (name) => all().find(([n]) => n === name)?.[1] ?? null,
    };
  }
}

/** Puts items into the folder at path under items, making the folders on the way. */
function nest(items: TreeItems, path: string[], add: TreeItems): void {
  let at = items;
  for (const name of path) {
    let sub = at.find(([n]) => n === name)?.[1];
    if (!sub) {
      sub = { type: 'dir', items: [] };
      at.push([name, sub]);
    }
    if (sub.type !== 'dir') return;
    at = sub.items;
  }
  at.push(...add);
}

function subItems(dir: RecordDir | null, name: string): RecordDir | null {
  const sub = dir?.items.find(([n]) => n === name)?.[1];
  return dir && sub?.type === 'dir' ? { items: sub.items, checkpointId: dir.checkpointId } : null;
}

const dirInfo = (id: number, checkpointId: number): Info => ({ id, type: 'dir', size: 0, checkpointId });

const attrTimeout = (info: Info): number => (info.checkpointId === null ? 0 : FOREVER);

const blankAttr = (): Attr => ({ ino: 0, size: 0, mode: 0, nlink: 0, uid: 0, gid: 0, blocks: 0, mtimeSec: 0, mtimeNsec: 0 });
