/**
 * A store as the proposal's tree, read from SQLite as the kernel asks for it: the
 * layout, names and bytes of `export --format tree` (formats/tree/render.ts makes both),
 * one checkpoint-ID/ for each checkpoint, /latest, and beyond the export a CRIU
 * checkpoint's files under criu/files/ and each process's memory as task-PID/mem.
 *
 * Nothing is built for the whole store. A checkpoint's image ids are numbered the first
 * time they are needed, into TEMP tables (mount.sql); records are read one at a time,
 * with the last few hundred kept. Everything under checkpoint-ID/ is immutable, so the
 * kernel may keep names, attributes and pages for as long as it likes; only the root
 * changes, and the kernel asks again about it every time (or every second, for names).
 */
import type Database from 'better-sqlite3';
import { ChunkReader } from '../store/chunks.js';
import { processesWithPages } from '../store/pages.js';
import { namedStatements, statement } from '../store/sqlFile.js';
import type { NamespaceType } from '../store/writer/types.js';
import { dropRestoreOrder, numberRestoreOrder } from '../formats/image/exporter.js';
import { checkpointRecord, fileRecord, getter, mapRecord, objectRecord, taskRecord, type Row } from '../formats/image/records.js';
import type { CriuImageRecord, FdRecord, ImageRecord, RlimitRecord, TaskRecord } from '../formats/image/types.js';
import {
  CHECKPOINT_FIELDS, CRIU_DIR, CRIU_IMAGE_FIELDS, DONE, FD_FIELDS, FILE_FIELDS, MAP_FIELDS, OBJECT_FIELDS, RLIMIT_FIELDS, SOCKET_FIELDS, TASK_FIELDS,
  type TreeField,
} from '../formats/tree/layout.js';
import {
  CHUNKS_DIR, FDS_DIR, FILES_DIR, IMAGES_DIR, MAPS_DIR, NS_DIR, OBJECTS_DIR, RLIMITS_DIR, SOCKET_DIR, imageDirName, placeRecord, taskDirName,
  type TreeItem, type TreeItems,
} from '../formats/tree/render.js';
import { MemoryFile, readImage } from './memory.js';
import { KIND, LATEST, ROOT, chunkNode, nodeId, parseChunkNode, parseNode, type Kind } from './nodes.js';
import { S_IFDIR, S_IFLNK, S_IFREG, SEEK_DATA, type Attr, type Entry } from './protocol.js';
import type { DirEntry, FileSystem } from './session.js';

const SQL = 'internal/mount.sql';

/** How long the kernel may keep what never changes: a committed checkpoint. */
const FOREVER = 24 * 3600;
/** Names in the root: a removed checkpoint's name is gone within this many seconds. */
const ROOT_NAMES = 1;

/** Where the files CRIU wrote are, under criu/, beside the export's chunks/ and images/. */
export const CRIU_FILES_DIR = 'files';
/** A process's memory at its virtual addresses, in task-PID/ of a CRIU checkpoint. */
export const MEM_FILE = 'mem';

const names = (fields: readonly TreeField[]) => fields.map((f) => f.file);
/** The files a record's directory can hold; a node of one is its index here. */
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

/** How often requests below the root look for commits of other connections. */
const REFRESH_MS = 100;

/** Offsets of a checkpoint's tasks in its directory listing: above every fixed entry. */
const TASK_OFFSET = 100;

type Stmt = Database.Statement<unknown[]>;

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

/** A directory: its children from an offset on, and one by name. */
interface Dir {
  list(offset: number): Iterable<{ name: string; next: number; info: Info }>;
  lookup(name: string): Info | null;
}

interface Incarnation {
  generation: number;
  sec: number;
  nsec: number;
}

export interface StoreFsOptions {
  uid: number;
  gid: number;
}

export class StoreFs implements FileSystem {
  private readonly s: Record<string, Stmt> = {};
  private readonly chunks: ChunkReader;
  private dataVersion = -1;
  private checkedAt = -Infinity;
  private rootTime: Incarnation = { generation: 0, sec: 0, nsec: 0 };
  private newest: number | null = null;
  /** Checkpoints by id: their commit, or null when there is none. */
  private readonly incarnations = new Map<number, Incarnation | null>();
  /** Checkpoints numbered in mount_objects, with the commit they were numbered at. */
  private readonly numbered = new Map<number, string>();
  private readonly cache = new Map<string, unknown>();

  constructor(private readonly db: Database.Database, private readonly opts: StoreFsOptions) {
    for (const sql of namedStatements(SQL).get('create_tables')!) db.exec(sql);
    for (const [name, [sql]] of namedStatements(SQL)) if (name !== 'create_tables' && name !== 'forget_numbering' && name !== 'save_numbering') this.s[name] = db.prepare(sql!);
    this.s.checkpoint = db.prepare(statement('internal/image.sql', 'checkpoint'));
    this.s.task_rlimits = db.prepare(statement('internal/image.sql', 'task_rlimits'));
    this.chunks = new ChunkReader(db);
  }

  lookup(parent: number, name: string): Entry | null {
    this.refresh(parent);
    const info = this.dir(parent)?.lookup(name) ?? null;
    return info && this.entry(info);
  }

  getattr(node: number): { attr: Attr; timeout: number } | null {
    this.refresh(node);
    const info = this.info(node);
    return info && { attr: this.attr(info), timeout: this.attrTimeout(info) };
  }

  readlink(node: number): string | null {
    this.refresh(node);
    if (node === LATEST) return this.newest === null ? null : `checkpoint-${this.newest}`;
    const item = this.item(parseNode(node));
    return item?.type === 'link' ? item.target : null;
  }

  read(node: number, offset: number, size: number): Buffer | null {
    this.refresh(node);
    const p = parseNode(node);
    if (p.kind === KIND.CRIU_FILE) {
      const image = this.image(p.a);
      return image && readImage(this.chunks, p.a, image.size, offset, size);
    }
    if (p.kind === KIND.CHUNK) {
      const chunk = this.chunkId(p);
      return chunk === null ? null : this.chunks.chunk(chunk).subarray(offset, offset + size);
    }
    if (p.kind === KIND.TASK_ITEM && ITEM_NAMES[KIND.TASK_ITEM]![p.b] === MEM_FILE) {
      const mem = this.mem(p.a);
      return mem && mem.read(offset, size);
    }
    const item = this.item(p);
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
    const p = parseNode(node);
    if (p.kind === KIND.TASK_ITEM && ITEM_NAMES[KIND.TASK_ITEM]![p.b] === MEM_FILE) {
      this.refresh(node);
      const mem = this.mem(p.a);
      return mem && (whence === SEEK_DATA ? mem.nextData(offset) : mem.nextHole(offset));
    }
    const info = this.info(node);
    if (!info || offset >= info.size) return null;
    return whence === SEEK_DATA ? offset : info.size;
  }

  statfs(): { blocks: number; files: number } {
    return { blocks: 0, files: 0 };
  }

  /** The listing as the session takes it: one entry object, filled anew for each (see FileSystem.readdir). */
  private *entries(list: Iterable<{ name: string; next: number; info: Info }>): Generator<DirEntry> {
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
    const top = info.checkpointId === null;
    const e = into ?? { nodeid: 0, generation: 0, entryTimeout: 0, attrTimeout: 0, attr: blankAttr() };
    e.nodeid = info.id;
    e.generation = top ? 0 : this.incarnation(info.checkpointId!)?.generation ?? 0;
    e.entryTimeout = top || info.type === 'dir' && parseNode(info.id).kind === KIND.CHECKPOINT ? ROOT_NAMES : FOREVER;
    e.attrTimeout = this.attrTimeout(info);
    this.attr(info, e.attr);
    return e;
  }

  private attrTimeout(info: Info): number {
    return info.checkpointId === null ? 0 : FOREVER;
  }

  private attr(info: Info, into: Attr = blankAttr()): Attr {
    const t = info.checkpointId === null ? this.rootTime : this.incarnation(info.checkpointId) ?? this.rootTime;
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
    if (node === LATEST) return this.newest === null ? null : { id: LATEST, type: 'link', size: `checkpoint-${this.newest}`.length, checkpointId: null };
    const p = parseNode(node);
    switch (p.kind) {
      case KIND.CHECKPOINT:
        return this.incarnation(p.a) ? { id: node, type: 'dir', size: 0, checkpointId: p.a } : null;
      case KIND.OBJECTS:
      case KIND.FILES:
      case KIND.CRIU:
      case KIND.CHUNKS:
      case KIND.IMAGES:
      case KIND.CRIU_FILES:
        return this.incarnation(p.a) ? { id: node, type: 'dir', size: 0, checkpointId: p.a } : null;
      case KIND.CHUNK: {
        const chunk = this.chunkId(p);
        return chunk === null ? null : { id: node, type: 'file', size: this.chunks.chunk(chunk).length, checkpointId: parseChunkNode(p).checkpointId };
      }
      case KIND.CRIU_FILE: {
        const image = this.image(p.a);
        return image && { id: node, type: 'file', size: image.size, checkpointId: image.checkpointId };
      }
      case KIND.TASK_ITEM:
        if (ITEM_NAMES[KIND.TASK_ITEM]![p.b] === MEM_FILE) {
          const mem = this.mem(p.a);
          return mem && { id: node, type: 'file', size: mem.size, stored: mem.stored, checkpointId: this.taskCheckpoint(p.a) };
        }
        return this.itemInfo(p, node);
      case KIND.CHECKPOINT_ITEM:
      case KIND.OBJECT_ITEM:
      case KIND.SOCKET_ITEM:
      case KIND.FILE_ITEM:
      case KIND.FD_ITEM:
      case KIND.MAP_ITEM:
      case KIND.NS_ITEM:
      case KIND.RLIMIT_ITEM:
      case KIND.IMAGE_ITEM:
        return this.itemInfo(p, node);
      case KIND.OBJECT_FDS:
      case KIND.OBJECT_MAPS: {
        const object = this.recordDir({ kind: KIND.OBJECT, a: p.a, b: 0 });
        return object && { id: node, type: 'dir', size: 0, checkpointId: object.checkpointId };
      }
      case KIND.CRIU_SUBDIR: {
        const image = this.image(p.a);
        return image && { id: node, type: 'dir', size: 0, checkpointId: image.checkpointId };
      }
      default: {
        const at = this.recordDir(p);
        return at && { id: node, type: 'dir', size: 0, checkpointId: at.checkpointId };
      }
    }
  }

  private itemInfo(p: ReturnType<typeof parseNode>, node: number): Info | null {
    const at = this.itemAt(p);
    if (!at) return null;
    const { item, checkpointId } = at;
    return { id: node, type: item.type, size: item.type === 'file' ? byteLength(item.data) : item.type === 'link' ? Buffer.byteLength(item.target) : 0, checkpointId };
  }

  private item(p: ReturnType<typeof parseNode>): TreeItem | null {
    return this.itemAt(p)?.item ?? null;
  }

  /** A file or link inside a record's directory, by its node. */
  private itemAt(p: ReturnType<typeof parseNode>): { item: TreeItem; checkpointId: number } | null {
    let dir: RecordDir | null;
    let name: string | undefined;
    switch (p.kind) {
      case KIND.NS_ITEM:
        dir = this.recordDir({ kind: KIND.NS, a: p.a, b: 0 });
        name = dir?.items[p.b]?.[0];
        break;
      case KIND.RLIMIT_ITEM:
        dir = this.recordDir({ kind: KIND.RLIMIT, a: p.a, b: p.b >> 1 });
        name = ITEM_NAMES[KIND.RLIMIT_ITEM]![p.b & 1];
        break;
      default: {
        const dirKind = ITEM_DIR[p.kind];
        if (dirKind === undefined) return null;
        dir = this.recordDir({ kind: dirKind, a: p.a, b: 0 });
        name = ITEM_NAMES[p.kind]?.[p.b];
      }
    }
    if (!dir || name === undefined) return null;
    const found = dir.items.find(([n]) => n === name);
    return found && found[1].type !== 'dir' ? { item: found[1], checkpointId: dir.checkpointId } : null;
  }

  // --- directories

  private dir(node: number): Dir | null {
    if (node === ROOT) return this.rootDir();
    const p = parseNode(node);
    switch (p.kind) {
      case KIND.CHECKPOINT:
        return this.incarnation(p.a) ? this.checkpointDir(p.a) : null;
      case KIND.OBJECTS:
      case KIND.FILES:
        return this.incarnation(p.a) ? this.objectsDir(p.a, p.kind === KIND.FILES) : null;
      case KIND.OBJECT_FDS:
        return this.fdsDir(p.a);
      case KIND.OBJECT_MAPS:
        return this.mapsDir(p.a);
      case KIND.CRIU:
        return this.incarnation(p.a) ? this.criuDir(p.a) : null;
      case KIND.CHUNKS:
        return this.incarnation(p.a) ? this.chunksDir(p.a) : null;
      case KIND.IMAGES:
        return this.incarnation(p.a) ? this.imagesDir(p.a) : null;
      case KIND.CRIU_FILES:
        return this.incarnation(p.a) ? this.criuFilesDir(node, p.a, '') : null;
      case KIND.CRIU_SUBDIR: {
        const image = this.image(p.a);
        return image && this.criuFilesDir(node, image.checkpointId, image.name.split('/').slice(0, p.b).join('/'));
      }
      default: {
        const at = this.recordDir(p);
        return at && this.itemsDir(node, at, p);
      }
    }
  }

  private rootDir(): Dir {
    return {
      list: function* (this: StoreFs, offset: number) {
        if (offset === 2 && this.newest !== null) yield { name: 'latest', next: 3, info: this.info(LATEST)! };
        for (const { id } of this.s.checkpoints_from!.iterate({ from: offset - 2 }) as IterableIterator<{ id: number }>) {
          yield { name: `checkpoint-${id}`, next: id + 3, info: { id: nodeId(KIND.CHECKPOINT, id), type: 'dir', size: 0, checkpointId: id } as Info };
        }
      }.bind(this),
      lookup: (name) => {
        if (name === 'latest') return this.info(LATEST);
        const m = /^checkpoint-([1-9][0-9]{0,11})$/.exec(name);
        return m ? this.info(nodeId(KIND.CHECKPOINT, Number(m[1]))) : null;
      },
    };
  }

  private checkpointDir(id: number): Dir {
    const fixed = (): [string, Info][] => {
      const dir = this.recordDir({ kind: KIND.CHECKPOINT, a: id, b: 0 });
      if (!dir) return [];
      const p = { kind: KIND.CHECKPOINT, a: id, b: 0 } as const;
      const items = dir.items.map(([name, item], i): [string, Info] => [name, this.childInfo(dir, p, name, item, i)]);
      const parts = this.s.checkpoint_parts!.get({ id }) as { objects: number; files: number; criu: number };
      const sub = (kind: Kind): Info => ({ id: nodeId(kind, id), type: 'dir', size: 0, checkpointId: id });
      if (parts.objects) items.push([OBJECTS_DIR, sub(KIND.OBJECTS)]);
      if (parts.files) items.push([FILES_DIR, sub(KIND.FILES)]);
      if (parts.criu) items.push([CRIU_DIR, sub(KIND.CRIU)]);
      return items;
    };
    const task = (taskId: number): Info => ({ id: nodeId(KIND.TASK, taskId), type: 'dir', size: 0, checkpointId: id });
    return {
      list: function* (this: StoreFs, offset: number) {
        if (offset < TASK_OFFSET) {
          const items = fixed();
          for (let i = offset - 2; i < items.length; i++) yield { name: items[i]![0], next: i + 3, info: items[i]![1] };
        }
        const from = Math.max(0, offset - TASK_OFFSET);
        for (const t of this.s.tasks_from!.iterate({ id, from }) as IterableIterator<{ id: number; pid: number }>) {
          yield { name: taskDirName(t.pid), next: TASK_OFFSET + t.pid + 1, info: task(t.id) };
        }
      }.bind(this),
      lookup: (name) => {
        const m = /^task-([0-9]{1,10})$/.exec(name);
        if (m) {
          const t = this.s.task_by_pid!.get({ id, pid: Number(m[1]) }) as { id: number } | undefined;
          return t ? task(t.id) : null;
        }
        return fixed().find(([n]) => n === name)?.[1] ?? null;
      },
    };
  }

  private objectsDir(id: number, files: boolean): Dir {
    this.number(id);
    const kind = files ? KIND.FILE : KIND.OBJECT;
    const info = (object: number): Info => ({ id: nodeId(kind, object), type: 'dir', size: 0, checkpointId: id });
    return {
      list: function* (this: StoreFs, offset: number) {
        for (const o of this.s.objects_from!.iterate({ id, from: offset - 2, is_file: files ? 1 : 0 }) as IterableIterator<{ image_id: number; object_id: number }>) {
          yield { name: String(o.image_id), next: o.image_id + 3, info: info(o.object_id) };
        }
      }.bind(this),
      lookup: (name) => {
        if (!/^[1-9][0-9]{0,14}$/.test(name)) return null;
        const o = this.s.object_by_image!.get({ id, image: Number(name), is_file: files ? 1 : 0 }) as { object_id: number } | undefined;
        return o ? info(o.object_id) : null;
      },
    };
  }

  private fdsDir(fdtable: number): Dir | null {
    const object = this.recordDir({ kind: KIND.OBJECT, a: fdtable, b: 0 });
    if (!object) return null;
    const info = (fd: number): Info => ({ id: nodeId(KIND.FD, fd), type: 'dir', size: 0, checkpointId: object.checkpointId });
    return {
      list: function* (this: StoreFs, offset: number) {
        for (const d of this.s.fds_from!.iterate({ fdtable, from: offset - 2 }) as IterableIterator<{ id: number; fd: number }>) {
          yield { name: String(d.fd), next: d.fd + 3, info: info(d.id) };
        }
      }.bind(this),
      lookup: (name) => {
        if (!/^(0|[1-9][0-9]{0,9})$/.test(name)) return null;
        const d = this.s.fd_by_number!.get({ fdtable, fd: Number(name) }) as { id: number } | undefined;
        return d ? info(d.id) : null;
      },
    };
  }

  private mapsDir(mm: number): Dir | null {
    const object = this.recordDir({ kind: KIND.OBJECT, a: mm, b: 0 });
    if (!object) return null;
    const info = (map: number): Info => ({ id: nodeId(KIND.MAP, map), type: 'dir', size: 0, checkpointId: object.checkpointId });
    return {
      list: function* (this: StoreFs, offset: number) {
        let i = 0;
        for (const m of this.s.maps_of!.iterate({ mm }) as IterableIterator<{ id: number; start_addr: string }>) {
          if (i++ >= offset - 2) yield { name: m.start_addr, next: i + 2, info: info(m.id) };
        }
      }.bind(this),
      lookup: (name) => {
        const m = this.s.map_by_start!.get({ mm, start: name }) as { id: number } | undefined;
        return m ? info(m.id) : null;
      },
    };
  }

  private criuDir(id: number): Dir {
    const entries = (): [string, Info][] => {
      this.number(id);
      const dir = (kind: Kind): Info => ({ id: nodeId(kind, id), type: 'dir', size: 0, checkpointId: id });
      const items: [string, Info][] = [];
      if (this.s.chunks_from!.get({ id, from: 0 })) items.push([CHUNKS_DIR, dir(KIND.CHUNKS)]);
      items.push([IMAGES_DIR, dir(KIND.IMAGES)], [CRIU_FILES_DIR, dir(KIND.CRIU_FILES)]);
      return items;
    };
    return this.listed(nodeId(KIND.CRIU, id), entries);
  }

  private chunksDir(id: number): Dir {
    this.number(id);
    const info = (n: number, chunk: number): Info => ({ id: chunkNode(id, n), type: 'file', size: this.chunks.chunk(chunk).length, checkpointId: id });
    return {
      list: function* (this: StoreFs, offset: number) {
        for (const c of this.s.chunks_from!.iterate({ id, from: offset - 2 }) as IterableIterator<{ n: number; chunk_id: number }>) {
          yield { name: String(c.n), next: c.n + 3, info: info(c.n, c.chunk_id) };
        }
      }.bind(this),
      lookup: (name) => {
        if (!/^[1-9][0-9]{0,14}$/.test(name)) return null;
        const chunk = this.s.chunk_by_number!.pluck().get({ id, n: Number(name) }) as number | undefined;
        return chunk === undefined ? null : info(Number(name), chunk);
      },
    };
  }

  private imagesDir(id: number): Dir {
    return this.listed(nodeId(KIND.IMAGES, id), () => this.images(id).map((i) => [imageDirName(i.name), { id: nodeId(KIND.IMAGE, i.id), type: 'dir', size: 0, checkpointId: id }]));
  }

  /** criu/files/ and its folders (a container archive's files may sit in folders): the files under prefix. */
  private criuFilesDir(node: number, id: number, prefix: string): Dir {
    return this.listed(node, () => {
      const depth = prefix === '' ? 0 : prefix.split('/').length;
      const items: [string, Info][] = [];
      const seen = new Set<string>();
      for (const i of this.images(id)) {
        if (prefix !== '' && !i.name.startsWith(`${prefix}/`)) continue;
        const parts = i.name.split('/');
        const name = parts[depth]!;
        if (seen.has(name) || name === '' || name === '.' || name === '..') continue;
        seen.add(name);
        items.push([name, parts.length > depth + 1
          ? { id: nodeId(KIND.CRIU_SUBDIR, i.id, depth + 1), type: 'dir', size: 0, checkpointId: id }
          : { id: nodeId(KIND.CRIU_FILE, i.id), type: 'file', size: i.size, checkpointId: id }]);
      }
      return items;
    });
  }

  /** A record's directory as the items placeRecord gives it. */
  private itemsDir(node: number, dir: RecordDir, p: ReturnType<typeof parseNode>): Dir {
    return this.listed(node, () => dir.items.map(([name, item], index) => [name, this.childInfo(dir, p, name, item, index)]));
  }

  /** The node of a child of a record's directory. */
  private childInfo(dir: RecordDir, p: ReturnType<typeof parseNode>, name: string, item: TreeItem, index: number): Info {
    const checkpointId = dir.checkpointId;
    if (item.type === 'dir') {
      const id = p.kind === KIND.RLIMITS ? nodeId(KIND.RLIMIT, p.a, index) : nodeId(SUBDIR[p.kind]![name]!, p.a);
      return { id, type: 'dir', size: 0, checkpointId };
    }
    const itemKind = p.kind === KIND.NS ? KIND.NS_ITEM : ITEM_OF[p.kind]!;
    const b = p.kind === KIND.NS ? index : p.kind === KIND.RLIMIT ? p.b * 2 + ITEM_NAMES[KIND.RLIMIT_ITEM]!.indexOf(name) : ITEM_NAMES[itemKind]!.indexOf(name);
    const id = nodeId(itemKind, p.a, b);
    if (item.type === 'link') return { id, type: 'link', size: Buffer.byteLength(item.target), checkpointId };
    if (p.kind === KIND.TASK && name === MEM_FILE) {
      const mem = this.mem(p.a)!;
      return { id, type: 'file', size: mem.size, stored: mem.stored, checkpointId };
    }
    return { id, type: 'file', size: byteLength(item.data), checkpointId };
  }

  /**
   * A small directory listed whole, offsets being positions; the listing is kept, for
   * the request that follows each listing (the kernel asks past the end to learn that
   * it is the end) and for lookups.
   */
  private listed(node: number, entries: () => [string, Info][]): Dir {
    const all = () => this.record(`L${node}`, entries)!;
    return {
      *list(offset) {
        const items = all();
        for (let i = offset - 2; i < items.length; i++) yield { name: items[i]![0], next: i + 3, info: items[i]![1] };
      },
      lookup: (name) => all().find(([n]) => n === name)?.[1] ?? null,
    };
  }

  // --- records

  /** The items of the record directory a node names, with the checkpoint they belong to. */
  private recordDir(p: { kind: Kind; a: number; b: number }): RecordDir | null {
    switch (p.kind) {
      case KIND.OBJECT:
        return this.placed(`o${p.a}`, () => this.objectRecord(p.a));
      case KIND.SOCKET:
        return this.subItems(this.recordDir({ kind: KIND.OBJECT, a: p.a, b: 0 }), SOCKET_DIR);
      case KIND.FILE:
        return this.placed(`f${p.a}`, () => this.fileRecord(p.a));
      case KIND.FD:
        return this.placed(`d${p.a}`, () => this.fdRecord(p.a));
      case KIND.MAP:
        return this.placed(`m${p.a}`, () => this.mapRecord(p.a));
      case KIND.TASK:
        return this.placed(`t${p.a}`, () => this.taskRecord(p.a), (items) => (this.mem(p.a) ? [...items, [MEM_FILE, { type: 'file', data: '' }]] : items));
      case KIND.NS:
        return this.subItems(this.recordDir({ kind: KIND.TASK, a: p.a, b: 0 }), NS_DIR);
      case KIND.RLIMITS:
        return this.subItems(this.recordDir({ kind: KIND.TASK, a: p.a, b: 0 }), RLIMITS_DIR);
      case KIND.RLIMIT: {
        const limits = this.recordDir({ kind: KIND.RLIMITS, a: p.a, b: 0 });
        const limit = limits?.items[p.b];
        return limits && limit && limit[1].type === 'dir' ? { items: limit[1].items, checkpointId: limits.checkpointId } : null;
      }
      case KIND.IMAGE:
        return this.placed(`i${p.a}`, () => this.imageRecord(p.a));
      case KIND.CHECKPOINT: {
        const items = this.record(`c${p.a}`, () => {
          const row = this.s.checkpoint!.get({ id: p.a }) as Row | undefined;
          return row ? placeRecord(checkpointRecord(row)).items : null;
        });
        return items && { items: [...items, [DONE, { type: 'file', data: '' }]], checkpointId: p.a };
      }
      default:
        return null;
    }
  }

  private subItems(dir: RecordDir | null, name: string): RecordDir | null {
    const sub = dir?.items.find(([n]) => n === name)?.[1];
    return dir && sub?.type === 'dir' ? { items: sub.items, checkpointId: dir.checkpointId } : null;
  }

  private placed(key: string, read: () => { record: ImageRecord; checkpointId: number } | null, extra?: (items: TreeItems) => TreeItems): RecordDir | null {
    return this.record(key, () => {
      const r = read();
      if (!r) return null;
      const { items } = placeRecord(r.record);
      return { items: extra ? extra(items) : items, checkpointId: r.checkpointId };
    });
  }

  /** A record kept for the requests that follow (a listing, then reads of its files). */
  private record<T>(key: string, read: () => T | null): T | null {
    if (this.cache.has(key)) {
      const v = this.cache.get(key) as T | null;
      this.cache.delete(key);
      this.cache.set(key, v);
      return v;
    }
    const v = read();
    this.cache.set(key, v);
    if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
    return v;
  }

  /**
   * A row that joins mount_objects for its image ids: found once its checkpoint is
   * numbered, so when it is not found, the row's checkpoint is numbered and it is read
   * again.
   */
  private numberedRow(checkpointOf: string, row: string, id: number): Row | null {
    const found = this.s[row]!.get({ id }) as Row | undefined;
    if (found) return found;
    const c = this.s[checkpointOf]!.get({ id }) as { checkpoint_id: number } | undefined;
    if (!c || this.numbered.has(c.checkpoint_id)) return null;
    this.number(c.checkpoint_id);
    return (this.s[row]!.get({ id }) as Row | undefined) ?? null;
  }

  private objectRecord(id: number): { record: ImageRecord; checkpointId: number } | null {
    const row = this.numberedRow('object_checkpoint', 'object', id);
    return row && { record: objectRecord(getter(row)), checkpointId: row.checkpoint_id as number };
  }

  private fileRecord(id: number): { record: ImageRecord; checkpointId: number } | null {
    const row = this.numberedRow('file_checkpoint', 'file', id);
    return row && { record: fileRecord(getter(row)), checkpointId: row.checkpoint_id as number };
  }

  private fdRecord(id: number): { record: ImageRecord; checkpointId: number } | null {
    const row = this.numberedRow('fd_checkpoint', 'fd', id);
    if (!row) return null;
    const record: FdRecord = { record: 'fd', fdtable: row.fdtable as number, fd: row.fd as number, cloexec: row.cloexec === 1, file: row.file as number };
    return { record, checkpointId: row.checkpoint_id as number };
  }

  private mapRecord(id: number): { record: ImageRecord; checkpointId: number } | null {
    const row = this.numberedRow('map_checkpoint', 'map', id);
    return row && { record: mapRecord(row, row.mm as number), checkpointId: row.checkpoint_id as number };
  }

  private taskRecord(task: number): { record: TaskRecord; checkpointId: number } | null {
    const checkpointId = this.taskCheckpoint(task);
    if (checkpointId === null) return null;
    this.number(checkpointId);
    const t = this.s.task!.get({ task }) as Row | undefined;
    if (!t) return null;
    const namespaces = this.s.task_namespaces!.raw().all({ task }) as [NamespaceType, number][];
    return { record: taskRecord(t, namespaces, this.s.task_rlimits!.all({ task }) as RlimitRecord[]), checkpointId };
  }

  private taskCheckpoint(task: number): number | null {
    return this.record(`tc${task}`, () => (this.s.task_checkpoint!.get({ task }) as { checkpoint_id: number } | undefined)?.checkpoint_id ?? null);
  }

  private imageRecord(id: number): { record: CriuImageRecord; checkpointId: number } | null {
    const img = this.s.image!.get({ id }) as Row | undefined;
    if (!img) return null;
    const checkpointId = img.checkpoint_id as number;
    this.number(checkpointId);
    const chunks = this.s.image_chunk_numbers!.pluck().all({ id, checkpoint_id: checkpointId }) as number[];
    const record: CriuImageRecord = {
      record: 'criuImage', name: img.name as string, kind: img.kind as string | null, role: img.role as CriuImageRecord['role'],
      headMagic: img.head_magic as number | null, size: img.size as number, entries: img.entries as number | null, chunks,
    };
    return { record, checkpointId };
  }

  private image(id: number): { checkpointId: number; name: string; size: number } | null {
    return this.record(`img${id}`, () => {
      const img = this.s.image!.get({ id }) as Row | undefined;
      return img ? { checkpointId: img.checkpoint_id as number, name: img.name as string, size: img.size as number } : null;
    });
  }

  private images(checkpointId: number): { id: number; name: string; size: number }[] {
    return this.record(`imgs${checkpointId}`, () => this.s.images!.all({ id: checkpointId }) as { id: number; name: string; size: number }[])!;
  }

  private chunkId(p: ReturnType<typeof parseNode>): number | null {
    const { checkpointId, n } = parseChunkNode(p);
    if (!this.incarnation(checkpointId)) return null;
    this.number(checkpointId);
    return (this.s.chunk_by_number!.pluck().get({ id: checkpointId, n }) as number | undefined) ?? null;
  }

  /** task-PID/mem: the memory of its process (its thread group), where the checkpoint holds pages of it. */
  private mem(task: number): MemoryFile | null {
    return this.record(`mem${task}`, () => {
      const t = this.taskRecord(task);
      if (!t) return null;
      const withPages = this.record(`pages${t.checkpointId}`, () => new Set(processesWithPages(this.db, t.checkpointId)))!;
      return withPages.has(t.record.tgid) ? MemoryFile.open(this.db, t.checkpointId, t.record.tgid) : null;
    });
  }

  // --- the store's checkpoints

  /**
   * Numbers a checkpoint's objects and chunks as its export does, once: in a read
   * transaction, so a checkpoint being removed meanwhile does not tear it.
   */
  private number(checkpointId: number): void {
    if (this.numbered.has(checkpointId)) return;
    const db = this.db;
    db.exec('BEGIN');
    try {
      const finished = this.s.checkpoint_finished!.pluck().get({ id: checkpointId }) as string | undefined;
      if (finished === undefined) return;
      numberRestoreOrder(db, checkpointId);
      for (const sql of namedStatements('internal/criu.sql').get('create_chunk_order')!) db.exec(sql);
      db.prepare(statement('internal/criu.sql', 'number_chunks')).run({ checkpoint_id: checkpointId });
      for (const sql of namedStatements(SQL).get('save_numbering')!) db.prepare(sql).run(sql.includes(':finished_at') ? { id: checkpointId, finished_at: finished } : { id: checkpointId });
      this.numbered.set(checkpointId, finished);
    } finally {
      dropRestoreOrder(db);
      for (const sql of namedStatements('internal/criu.sql').get('drop_chunk_order')!) db.exec(sql);
      if (db.inTransaction) db.exec('COMMIT');
    }
  }

  /**
   * Catches up with commits of other connections (PRAGMA data_version): checkpoints
   * added or removed change the root; the numbers and records of a removed checkpoint
   * are dropped, so an id that comes back is read anew. Asked on every request about
   * the root or /latest, and at most every REFRESH_MS on others: nothing under a
   * checkpoint changes but its removal, which the kernel learns from the root.
   */
  private refresh(node: number): void {
    const now = performance.now();
    if (node > LATEST && now - this.checkedAt < REFRESH_MS) return;
    this.checkedAt = now;
    const version = this.s.data_version!.pluck().get() as number;
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    this.incarnations.clear();
    this.cache.clear();
    const sig = this.s.store_signature!.get() as { n: number; ids: number; newest: number | null; finished: string };
    this.newest = sig.newest;
    const t = timeOf(sig.finished);
    // The root's mtime changes whenever its names do, so the kernel lists it anew.
    this.rootTime = { generation: 0, sec: t.sec, nsec: (sig.n * 1_000_003 + sig.ids) % 1_000_000_000 };
    for (const [id, finished] of this.numbered) {
      if (this.s.checkpoint_finished!.pluck().get({ id }) === finished) continue;
      for (const sql of namedStatements(SQL).get('forget_numbering')!) this.db.prepare(sql).run({ id });
      this.numbered.delete(id);
    }
  }

  private incarnation(id: number): Incarnation | null {
    let inc = this.incarnations.get(id);
    if (inc !== undefined) return inc;
    const finished = this.s.checkpoint_finished!.pluck().get({ id }) as string | undefined;
    inc = finished === undefined ? null : { generation: hash(finished), ...timeOf(finished) };
    this.incarnations.set(id, inc);
    return inc;
  }
}

interface RecordDir {
  items: TreeItems;
  checkpointId: number;
}

/** The kind of a file of a record directory's kind, and back. */
const ITEM_OF: Partial<Record<Kind, Kind>> = {
  [KIND.CHECKPOINT]: KIND.CHECKPOINT_ITEM,
  [KIND.OBJECT]: KIND.OBJECT_ITEM,
  [KIND.SOCKET]: KIND.SOCKET_ITEM,
  [KIND.FILE]: KIND.FILE_ITEM,
  [KIND.FD]: KIND.FD_ITEM,
  [KIND.MAP]: KIND.MAP_ITEM,
  [KIND.TASK]: KIND.TASK_ITEM,
  [KIND.RLIMIT]: KIND.RLIMIT_ITEM,
  [KIND.IMAGE]: KIND.IMAGE_ITEM,
};
const ITEM_DIR: Partial<Record<Kind, Kind>> = Object.fromEntries(Object.entries(ITEM_OF).map(([dir, item]) => [item, Number(dir)]));

/** The folders inside a record's directory, by name. */
const SUBDIR: Partial<Record<Kind, Record<string, Kind>>> = {
  [KIND.OBJECT]: { [SOCKET_DIR]: KIND.SOCKET, [FDS_DIR]: KIND.OBJECT_FDS, [MAPS_DIR]: KIND.OBJECT_MAPS },
  [KIND.TASK]: { [NS_DIR]: KIND.NS, [RLIMITS_DIR]: KIND.RLIMITS },
};



const blankAttr = (): Attr => ({ ino: 0, size: 0, mode: 0, nlink: 0, uid: 0, gid: 0, blocks: 0, mtimeSec: 0, mtimeNsec: 0 });

const byteLength = (data: string | Uint8Array): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

function timeOf(iso: string): { sec: number; nsec: number } {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { sec: 0, nsec: 0 };
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}

/** FNV-1a of a checkpoint's commit time: its generation, never 0. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) + 1;
}

