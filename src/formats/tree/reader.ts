import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CkptdbError } from '../../errors.js';
import { badImage } from '../badImage.js';
import { ImageChecker, type RecordRef } from '../image/check.js';
import type { LocatedRecord } from '../image/reader.js';
import { describeSchemaError, imageValidators } from '../image/schema.js';
import type { ImageRecord, RecordType, TaskRecord } from '../image/types.js';
import {
  CHECKPOINT_FIELDS, CRIU_DIR, CRIU_IMAGE_FIELDS, DETAIL_DIRS, DONE, FD_FIELDS, FILE_FIELDS, MAP_FIELDS, OBJECT_FIELDS, RLIMIT_FIELDS, SOCKET_FIELDS, TASK_FIELDS,
  TREE_FORMAT, TREE_VERSION, parseValue, type DetailType, type TreeField,
} from './layout.js';

const FIELDS_OF: Record<RecordType, readonly TreeField[]> = {
  checkpoint: CHECKPOINT_FIELDS, object: OBJECT_FIELDS, file: FILE_FIELDS, task: TASK_FIELDS, fd: FD_FIELDS, map: MAP_FIELDS,
  eventfd: DETAIL_DIRS.eventfd.fields, epollTarget: DETAIL_DIRS.epollTarget.fields, inotifyWatch: DETAIL_DIRS.inotifyWatch.fields,
  timerfd: DETAIL_DIRS.timerfd.fields, signalfd: DETAIL_DIRS.signalfd.fields, tty: DETAIL_DIRS.tty.fields,
  criuChunk: [], criuImage: CRIU_IMAGE_FIELDS,
};
const DETAIL_TYPES = Object.keys(DETAIL_DIRS) as DetailType[];
const DETAIL_SUBDIRS = DETAIL_TYPES.map((t) => DETAIL_DIRS[t].dir);
const ROOT_ENTRIES = new Set(['format', 'version', DONE, 'objects', 'files', CRIU_DIR, ...CHECKPOINT_FIELDS.map((f) => f.file)]);
const ADDRESS = /^[0-9a-f]{16}$/;

/** Where the record being read lives, for messages. */
interface Current {
  dir: string;
  type: RecordType;
  record?: Partial<TaskRecord>;
}

/**
 * Reads a tree written by exportTree: refuses it without `done`, reads every value file,
 * and yields the records with all shared objects first (in id order, so they are defined
 * before any reference), then the tasks parents first, then fds and maps. Each record is
 * checked against the image schema and the image's rules; a problem is reported with the
 * path of the file (or directory) that holds it. CRIU's files come last: every chunk,
 * then every file made of them.
 */
export class TreeReader {
  readonly root: string;
  private readonly validators = imageValidators();
  private readonly checker = new ImageChecker((ref, field, message) => this.fail(ref, field, message));
  private current: Current;
  private readonly fdtables: number[] = [];
  private readonly mms: number[] = [];
  /** Files with details under them, in id order. */
  private readonly detailed: number[] = [];

  constructor(path: string) {
    this.root = findRoot(path);
    this.current = { dir: this.root, type: 'checkpoint' };
  }

  *batches(): Generator<LocatedRecord[]> {
    if (!existsSync(join(this.root, DONE))) this.failAt(this.root, `has no ${DONE} file: the tree was never finished (or is still being written)`);
    yield [this.accept(this.checkpoint(), 0)];
    const count = this.countObjects();
    for (let id = 1; id <= count; id++) yield [this.accept(this.object(id), id)];
    for (const task of this.tasks()) {
      this.current = { dir: join(this.root, `task-${task.pid}`), type: 'task', record: task };
      yield [this.accept(task, 0)];
    }
    for (const fdtable of this.fdtables) yield* this.fds(fdtable);
    for (const mm of this.mms) yield* this.maps(mm);
    for (const file of this.detailed) yield* this.details(file);
    yield* this.criuFiles();
    this.current = { dir: this.root, type: 'checkpoint' };
    this.checker.finish(0);
  }

  fail(ref: RecordRef, field: string, message: string): never {
    const at = ref > 0 ? this.objectAt(ref) : this.current;
    return this.failAt(join(at.dir, fileOf(at, field)), message);
  }

  private failAt(path: string, message: string): never {
    throw badImage(`${path}: ${message}`);
  }

  private accept(record: ImageRecord | TaskRecord, ref: RecordRef): LocatedRecord {
    if (!this.validators.record(record)) {
      const { pointer, message } = describeSchemaError(this.validators.record.errors);
      this.fail(ref, pointer, message);
    }
    this.checker.check(record, ref);
    return { record, ref };
  }

  private checkpoint(): ImageRecord {
    const m = /^checkpoint-([1-9][0-9]*)$/.exec(basename(this.root));
    if (!m) this.failAt(this.root, 'the tree of a checkpoint is a directory named checkpoint-ID');
    this.current = { dir: this.root, type: 'checkpoint' };
    for (const entry of this.list(this.root)) {
      if (!ROOT_ENTRIES.has(entry) && !/^task-[0-9]+$/.test(entry)) this.failAt(join(this.root, entry), 'is not part of a checkpoint tree');
    }
    const format = this.readText(this.root, 'format');
    if (format !== TREE_FORMAT) this.failAt(join(this.root, 'format'), `is ${JSON.stringify(format)}, not ${TREE_FORMAT}`);
    const version = this.readText(this.root, 'version');
    if (version !== String(TREE_VERSION)) this.failAt(join(this.root, 'version'), `${JSON.stringify(version)} is not a version this ckptdb reads (it reads ${TREE_VERSION})`);
    return { record: 'checkpoint', id: Number(m[1]), ...this.readFields(this.root, CHECKPOINT_FIELDS, ['format', 'version', DONE, 'objects', 'files'], true) } as ImageRecord;
  }

  /** Objects and files share the ids 1..N; N is where both stop, and nothing may lie beyond. */
  private countObjects(): number {
    let n = 0;
    while (existsSync(join(this.root, 'objects', String(n + 1))) || existsSync(join(this.root, 'files', String(n + 1)))) n++;
    for (const folder of ['objects', 'files']) {
      const dir = join(this.root, folder);
      if (!existsSync(dir)) continue;
      for (const name of this.list(dir)) {
        const id = /^[1-9][0-9]*$/.test(name) ? Number(name) : NaN;
        if (!(id <= n)) this.failAt(join(dir, name), Number.isNaN(id) ? 'is not an object id' : `object ids run 1, 2, 3 ... without gaps, and ${n + 1} is missing`);
      }
    }
    return n;
  }

  private object(id: number): ImageRecord {
    const objectDir = join(this.root, 'objects', String(id));
    const fileDir = join(this.root, 'files', String(id));
    if (existsSync(objectDir) && existsSync(fileDir)) this.failAt(fileDir, `object ${id} is also ${objectDir}: objects and files share one numbering`);
    if (existsSync(fileDir)) {
      this.current = { dir: fileDir, type: 'file' };
      const fields = this.readFields(fileDir, FILE_FIELDS, DETAIL_SUBDIRS);
      if (DETAIL_SUBDIRS.some((d) => existsSync(join(fileDir, d)))) this.detailed.push(id);
      return { record: 'file', id, ...fields } as ImageRecord;
    }
    this.current = { dir: objectDir, type: 'object' };
    const fields = this.readFields(objectDir, OBJECT_FIELDS, ['socket', 'fds', 'maps']);
    const socketDir = join(objectDir, 'socket');
    const socket = existsSync(socketDir) ? this.readFields(socketDir, SOCKET_FIELDS, []) : null;
    if (existsSync(join(objectDir, 'fds'))) {
      if (fields.kind !== 'fdtable') this.failAt(join(objectDir, 'fds'), `fd slots under an object of kind ${String(fields.kind)}`);
      this.fdtables.push(id);
    }
    if (existsSync(join(objectDir, 'maps'))) {
      if (fields.kind !== 'mm') this.failAt(join(objectDir, 'maps'), `mappings under an object of kind ${String(fields.kind)}`);
      this.mms.push(id);
    }
    return { record: 'object', id, ...fields, socket } as ImageRecord;
  }

  /** Every task, parents first; tasks are few, so they are ordered in memory. */
  private tasks(): TaskRecord[] {
    const tasks: TaskRecord[] = [];
    for (const entry of this.list(this.root).sort()) {
      const m = /^task-([0-9]+)$/.exec(entry);
      if (!m) continue;
      const dir = join(this.root, entry);
      const pid = Number(m[1]);
      this.current = { dir, type: 'task' };
      const fields = this.readFields(dir, TASK_FIELDS, ['ns', 'rlimits', 'fds', 'maps']);
      const namespaces: Record<string, unknown> = {};
      const nsDir = join(dir, 'ns');
      if (existsSync(nsDir)) {
        for (const type of this.list(nsDir).sort()) namespaces[type] = this.readValue(nsDir, type, 'int');
      }
      const rlimits: unknown[] = [];
      const limitsDir = join(dir, 'rlimits');
      if (existsSync(limitsDir)) {
        for (const resource of this.list(limitsDir).sort()) rlimits.push({ resource, ...this.readFields(join(limitsDir, resource), RLIMIT_FIELDS, []) });
      }
      const { unreadable, attrs, ...rest } = fields;
      tasks.push({ record: 'task', pid, ...rest, namespaces, rlimits, unreadable, attrs } as TaskRecord);
    }
    return restoreOrder(tasks);
  }

  private *fds(fdtable: number): Generator<LocatedRecord[]> {
    const dir = join(this.root, 'objects', String(fdtable), 'fds');
    for (const name of this.sortedEntries(dir, /^(0|[1-9][0-9]*)$/, 'is not an fd number', (a, b) => Number(a) - Number(b))) {
      const slot = join(dir, name);
      this.current = { dir: slot, type: 'fd' };
      const fields = this.readFields(slot, FD_FIELDS, []);
      if (fields.fd !== Number(name)) this.failAt(join(slot, 'fd_nr'), `says ${String(fields.fd)}, but the slot is fds/${name}`);
      yield [this.accept({ record: 'fd', fdtable, ...fields } as ImageRecord, 0)];
    }
  }

  private *maps(mm: number): Generator<LocatedRecord[]> {
    const dir = join(this.root, 'objects', String(mm), 'maps');
    for (const start of this.sortedEntries(dir, ADDRESS, 'is not a start address (16 lower-case hex digits)')) {
      const mapDir = join(dir, start);
      this.current = { dir: mapDir, type: 'map' };
      yield [this.accept({ record: 'map', mm, start, ...this.readFields(mapDir, MAP_FIELDS, []) } as ImageRecord, 0)];
    }
  }

  /** files/K/eventfd, epoll/SEQ, inotify/WD, timerfd, signalfd, tty: the detail records of file K. */
  private *details(file: number): Generator<LocatedRecord[]> {
    const fileDir = join(this.root, 'files', String(file));
    for (const type of DETAIL_TYPES) {
      const { dir: sub, fields, keyed } = DETAIL_DIRS[type];
      const dir = join(fileDir, sub);
      if (!existsSync(dir)) continue;
      const names = keyed === null ? [null] : this.sortedEntries(dir, /^(0|[1-9][0-9]*)$/, `is not a ${keyed}`, (a, b) => Number(a) - Number(b));
      for (const name of names) {
        const recordDir = name === null ? dir : join(dir, name);
        this.current = { dir: recordDir, type };
        const key = keyed === null || name === null ? {} : { [keyed]: Number(name) };
        yield [this.accept({ record: type, file, ...key, ...this.readFields(recordDir, fields, []) } as ImageRecord, 0)];
      }
    }
  }

  private *criuFiles(): Generator<LocatedRecord[]> {
    const dir = join(this.root, CRIU_DIR);
    if (!existsSync(dir)) return;
    for (const entry of this.list(dir)) if (entry !== 'chunks' && entry !== 'images') this.failAt(join(dir, entry), 'is not part of a checkpoint tree');
    const chunks = join(dir, 'chunks');
    if (existsSync(chunks)) {
      for (const name of this.sortedEntries(chunks, /^[1-9][0-9]*$/, 'is not a chunk id', (a, b) => Number(a) - Number(b))) {
        const path = join(chunks, name);
        this.current = { dir: path, type: 'criuChunk' };
        yield [this.accept({ record: 'criuChunk', id: Number(name), data: this.readBytes(path).toString('base64') }, 0)];
      }
    }
    const images = join(dir, 'images');
    if (!existsSync(images)) return;
    for (const entry of this.list(images).sort()) {
      const imageDir = join(images, entry);
      const name = decodedName(entry);
      if (name === null) this.failAt(imageDir, 'is not a file name as export writes it (encodeURIComponent)');
      this.current = { dir: imageDir, type: 'criuImage' };
      yield [this.accept({ record: 'criuImage', name, ...this.readFields(imageDir, CRIU_IMAGE_FIELDS, []) } as ImageRecord, 0)];
    }
  }

  private sortedEntries(dir: string, pattern: RegExp, what: string, order?: (a: string, b: string) => number): string[] {
    const names = this.list(dir);
    for (const name of names) if (!pattern.test(name)) this.failAt(join(dir, name), what);
    return names.sort(order);
  }

  /** The fields of a record directory: every file known, every required one there. */
  private readFields(dir: string, fields: readonly TreeField[], subdirs: readonly string[], rootLevel = false): Record<string, unknown> {
    const entries = this.list(dir);
    const known = new Set(fields.map((f) => f.file));
    if (!rootLevel) {
      for (const entry of entries) {
        if (!known.has(entry) && !subdirs.includes(entry)) this.failAt(join(dir, entry), 'is not part of this record');
      }
    }
    const present = new Set(entries);
    const values: Record<string, unknown> = {};
    for (const field of fields) {
      if (!present.has(field.file)) {
        if (field.required) this.failAt(join(dir, field.file), 'is missing');
        values[field.key] = null;
        continue;
      }
      values[field.key] = this.readValue(dir, field.file, field.kind);
    }
    return values;
  }

  /** The names in a directory; a file or a dangling link where a directory belongs is the tree's fault. */
  private list(dir: string): string[] {
    try {
      return readdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.failAt(dir, code === 'ENOTDIR' ? 'is a file, not a directory' : code === 'ENOENT' ? 'is missing' : `cannot read it: ${code ?? (e as Error).message}`);
    }
  }

  private readValue(dir: string, file: string, kind: TreeField['kind']): unknown {
    const parsed = parseValue(this.readText(dir, file), kind);
    if ('error' in parsed) this.failAt(join(dir, file), parsed.error);
    return parsed.value;
  }

  private readText(dir: string, file: string): string {
    return this.readBytes(join(dir, file)).toString('utf8');
  }

  private readBytes(path: string): Buffer {
    try {
      return readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.failAt(path, code === 'ENOENT' ? 'is missing' : code === 'EISDIR' ? 'is a directory, not a value file' : `cannot read it: ${code ?? (e as Error).message}`);
    }
  }

  private objectAt(id: number): Current {
    const fileDir = join(this.root, 'files', String(id));
    return existsSync(fileDir) ? { dir: fileDir, type: 'file' } : { dir: join(this.root, 'objects', String(id)), type: 'object' };
  }
}

/** The file under a record's directory that a JSON pointer into the record names. */
function fileOf(at: Current, pointer: string): string {
  const [, first = '', second, third] = pointer.split('/');
  if (first === '' || first === 'record' || first === 'id' || (at.type === 'map' && first === 'start')) return '';
  // A chunk is its file; a CRIU file's name is its directory's.
  if (at.type === 'criuChunk' || (at.type === 'criuImage' && first === 'name')) return '';
  if (first === 'socket') return second ? join('socket', SOCKET_FIELDS.find((f) => f.key === second)?.file ?? second) : 'socket';
  if (first === 'namespaces') return second ? join('ns', second) : 'ns';
  if (first === 'rlimits') {
    const resource = second !== undefined ? at.record?.rlimits?.[Number(second)]?.resource : undefined;
    return resource === undefined ? 'rlimits' : third && third !== 'resource' ? join('rlimits', resource, third) : join('rlimits', resource);
  }
  if (at.type === 'task' && first === 'pid') return '';
  return FIELDS_OF[at.type].find((f) => f.key === first)?.file ?? first;
}

/** Parents before children, a thread right after its leader, siblings by pid; as the exporter orders them. */
export function restoreOrder(tasks: TaskRecord[]): TaskRecord[] {
  const byPid = new Map(tasks.map((t) => [t.pid, t]));
  const isThread = (t: TaskRecord) => t.pid !== t.tgid && byPid.has(t.tgid);
  const parentOf = (t: TaskRecord) => (isThread(t) ? t.tgid : t.ppid !== null && byPid.has(t.ppid) ? t.ppid : null);
  const children = new Map<number, TaskRecord[]>();
  const roots: TaskRecord[] = [];
  for (const t of tasks) {
    const parent = parentOf(t);
    if (parent === null) roots.push(t);
    else children.set(parent, [...(children.get(parent) ?? []), t]);
  }
  const bySiblingOrder = (a: TaskRecord, b: TaskRecord) => Number(isThread(b)) - Number(isThread(a)) || a.pid - b.pid;
  const ordered: TaskRecord[] = [];
  const seen = new Set<number>();
  const stack = roots.sort((a, b) => b.pid - a.pid);
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t.pid)) continue;
    seen.add(t.pid);
    ordered.push(t);
    stack.push(...(children.get(t.pid) ?? []).sort(bySiblingOrder).reverse());
  }
  // Tasks in a ppid cycle are reached from no root: they go last, where the checker names them.
  for (const t of tasks) if (!seen.has(t.pid)) ordered.push(t);
  return ordered;
}

/** A directory name of criu/images/ as the name it encodes; null unless export would write exactly it. */
function decodedName(entry: string): string | null {
  try {
    const name = decodeURIComponent(entry);
    return encodeURIComponent(name) === entry ? name : null;
  } catch {
    return null;
  }
}

function findRoot(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CkptdbError('BAD_ARGUMENT', `cannot read ${path}: no such file or directory`);
  }
  if (!st.isDirectory()) throw badImage(`${path}: a checkpoint tree is a directory`);
  if (/^checkpoint-/.test(basename(path)) || existsSync(join(path, DONE)) || existsSync(join(path, 'format'))) return path;
  const found = readdirSync(path).filter((e) => /^checkpoint-[0-9]+$/.test(e));
  if (found.length === 1) return join(path, found[0]!);
  throw badImage(found.length === 0
    ? `${path}: no checkpoint-ID directory in it`
    : `${path}: holds ${found.length} checkpoint trees (${found.slice(0, 3).join(', ')}${found.length > 3 ? ', ...' : ''}); name one`);
}
