import type { SharedObjectKind } from '../../store/writer/types.js';
import type { CriuChunkRecord, CriuImageRecord, FileRecord, ImageRecord, ObjectRecord, TaskRecord } from './types.js';

/** Where a record came from, for messages: a record index, a line number, a tree path... */
export type RecordRef = number;

/** Reports a problem of the record at ref, field (a JSON pointer below the record, or ''). */
export type Fail = (ref: RecordRef, field: string, message: string) => never;

const KINDS: readonly SharedObjectKind[] = ['file', 'inode', 'pipe', 'socket', 'anon', 'mm', 'fdtable', 'fs', 'sighand', 'ns'];
const KIND_CODE = new Map(KINDS.map((k, i) => [k, i + 1]));
const KIND_NAME: Record<SharedObjectKind, string> = {
  file: 'an open file', inode: 'an inode', pipe: 'a pipe', socket: 'a socket', anon: 'an anon inode', mm: 'an address space',
  fdtable: 'an fd table', fs: 'fs info', sighand: 'signal handlers', ns: 'a namespace',
};
const FILE_OBJECT_KINDS: readonly SharedObjectKind[] = ['inode', 'pipe', 'socket', 'anon'];
const TASK_REFS = [['mm', 'mm'], ['fdtable', 'fdtable'], ['fs', 'fs'], ['sighand', 'sighand']] as const;
/** CRIU's files are cut into chunks of this size from their start (src/store/chunks.ts). */
const CHUNK_SIZE = 4096;

/** Objects per page of ObjectPage. */
const PAGE_BITS = 16;
const PAGE_MASK = (1 << PAGE_BITS) - 1;

/** What is kept of 2^PAGE_BITS consecutive object ids. */
class ObjectPage {
  readonly kinds = new Uint8Array(1 << PAGE_BITS);
  readonly declared = new Int32Array(1 << PAGE_BITS);
  readonly seen = new Int32Array(1 << PAGE_BITS);
  readonly definedAt = new Uint32Array(1 << PAGE_BITS);
}

/**
 * The rules of an image that a schema cannot say: the checkpoint first; object ids
 * 1, 2, 3 ... in order of definition; every reference to an object defined before it,
 * of a kind that fits; parents before children; each pid once; every refcount equal to
 * the references that point to the object.
 *
 * For CRIU's files: chunk ids 1, 2, 3 ... in order; a file's chunks defined before it,
 * 4 KiB each but the last, adding up to its size; every chunk used; file names that
 * stay inside the directory they are written to, each once.
 *
 * Per shared object it keeps 13 bytes (kind, declared refcount, references seen, where
 * it was defined) in typed arrays of 65,536 objects each: a million objects cost 13 MB.
 * Arrays grown by doubling held up to twice that, and three times while one was copied
 * (54 MB at 2.5 million objects, a quarter of an import's peak). Per chunk 7 bytes
 * (length, used, where defined); nothing else grows with the image but sets of pids
 * and of CRIU file names.
 */
export class ImageChecker {
  private seenCheckpoint = false;
  private nextId = 1;
  private readonly objects: ObjectPage[] = [];
  private readonly pids = new Set<number>();
  private source: string | null = null;
  private nextChunk = 1;
  private chunkLength = new Uint16Array(1024);
  private chunkUsed = new Uint8Array(1024);
  private chunkDefinedAt = new Uint32Array(1024);
  private readonly criuNames = new Set<string>();
  /** Parents not seen yet, with a child that came before them. */
  private readonly awaitedParents = new Map<number, { child: number; ref: RecordRef }>();

  constructor(private readonly fail: Fail) {}

  check(r: ImageRecord, ref: RecordRef): void {
    if (!this.seenCheckpoint) {
      if (r.record !== 'checkpoint') this.fail(ref, '/record', 'the first record must be the checkpoint');
      this.seenCheckpoint = true;
      this.source = r.source;
      return;
    }
    switch (r.record) {
      case 'checkpoint':
        return this.fail(ref, '/record', 'a second checkpoint record: an image holds one checkpoint');
      case 'object':
        return this.object(r, ref);
      case 'file':
        return this.file(r, ref);
      case 'task':
        return this.task(r, ref);
      case 'fd':
        this.use(ref, '/fdtable', r.fdtable, ['fdtable'], false);
        this.use(ref, '/file', r.file, ['file'], true);
        return;
      case 'map':
        this.use(ref, '/mm', r.mm, ['mm'], false);
        if (r.end <= r.start) this.fail(ref, '/end', `the map ends at ${r.end}, not above its start ${r.start}`);
        return;
      case 'eventfd':
      case 'epollTarget':
      case 'inotifyWatch':
      case 'timerfd':
      case 'signalfd':
        return this.use(ref, '/file', r.file, ['file'], false);
      case 'tty':
        this.use(ref, '/file', r.file, ['file'], false);
        if (r.peer !== null) this.use(ref, '/peer', r.peer, ['file'], false);
        return;
      case 'criuChunk':
        return this.chunk(r, ref);
      case 'criuImage':
        return this.criuImage(r, ref);
    }
  }

  /** After the last record: is anything missing? */
  finish(endRef: RecordRef): void {
    if (!this.seenCheckpoint) this.fail(endRef, '', 'the image holds no checkpoint record');
    for (let id = 1; id < this.nextId; id++) {
      const page = this.objects[id >>> PAGE_BITS]!;
      const i = id & PAGE_MASK;
      if (page.seen[i] !== page.declared[i]) {
        this.fail(page.definedAt[i]!, '/refcount', `object ${id} has refcount ${page.declared[i]}, but ${page.seen[i]} references in the image point to it`);
      }
    }
    for (let id = 1; id < this.nextChunk; id++) {
      if (!this.chunkUsed[id]) this.fail(this.chunkDefinedAt[id]!, '/id', `chunk ${id} is used by no criuImage record`);
    }
  }

  private object(r: ObjectRecord, ref: RecordRef): void {
    this.define(r.id, r.kind, r.refcount, ref);
    if (r.socket !== null && r.kind !== 'socket') this.fail(ref, '/socket', `socket details on an object of kind ${r.kind}`);
  }

  private file(r: FileRecord, ref: RecordRef): void {
    if (r.object !== null) this.use(ref, '/object', r.object, FILE_OBJECT_KINDS, true);
    this.define(r.id, 'file', r.refcount, ref);
  }

  private task(r: TaskRecord, ref: RecordRef): void {
    if (this.pids.has(r.pid)) this.fail(ref, '/pid', `task ${r.pid} appears twice`);
    const waiting = this.awaitedParents.get(r.pid);
    if (waiting) this.fail(ref, '', `task ${r.pid} comes after its child task ${waiting.child}: parents come first`);
    const leader = r.pid !== r.tgid ? r.tgid : null;
    if (r.ppid === r.pid) this.fail(ref, '/ppid', `task ${r.pid} is its own parent`);
    this.pids.add(r.pid);
    // A thread's parent is its leader when the leader is in the image, else its ppid:
    // whichever of them is still to come would come after its child.
    if (leader !== null && !this.pids.has(leader)) this.awaitedParents.set(leader, { child: r.pid, ref });
    if ((leader === null || !this.pids.has(leader)) && r.ppid !== null && !this.pids.has(r.ppid) && !this.awaitedParents.has(r.ppid)) {
      this.awaitedParents.set(r.ppid, { child: r.pid, ref });
    }
    for (const [field, kind] of TASK_REFS) {
      const id = r[field];
      if (id !== null) this.use(ref, `/${field}`, id, [kind], true);
    }
    for (const [type, id] of Object.entries(r.namespaces)) this.use(ref, `/namespaces/${type}`, id!, ['ns'], true);
    const resources = new Set<string>();
    r.rlimits.forEach((l, i) => {
      if (resources.has(l.resource)) this.fail(ref, `/rlimits/${i}/resource`, `resource limit ${l.resource} appears twice`);
      resources.add(l.resource);
    });
  }

  private chunk(r: CriuChunkRecord, ref: RecordRef): void {
    if (r.id !== this.nextChunk) {
      this.fail(ref, '/id', r.id < this.nextChunk ? `chunk ${r.id} is defined a second time` : `chunk ids count up from 1: expected ${this.nextChunk}, not ${r.id}`);
    }
    // The schema's pattern takes any length: the exact base64 pattern costs twice as much on every page of data.
    if (r.data.length % 4 !== 0) this.fail(ref, '/data', 'must be base64: its length is not a multiple of 4');
    const length = base64Length(r.data);
    if (length > CHUNK_SIZE) this.fail(ref, '/data', `holds ${length} bytes; a chunk holds at most ${CHUNK_SIZE}`);
    if (r.id >= this.chunkLength.length) {
      this.chunkLength = grown(this.chunkLength, new Uint16Array(r.id * 2));
      this.chunkUsed = grown(this.chunkUsed, new Uint8Array(r.id * 2));
      this.chunkDefinedAt = grown(this.chunkDefinedAt, new Uint32Array(r.id * 2));
    }
    this.chunkLength[r.id] = length;
    this.chunkDefinedAt[r.id] = ref;
    this.nextChunk++;
  }

  private criuImage(r: CriuImageRecord, ref: RecordRef): void {
    if (this.source !== 'criu') this.fail(ref, '/record', `CRIU's files belong to a checkpoint of source criu, and this one is of source ${this.source}`);
    const badName = r.role === 'container' ? badRelativePath(r.name) : badFileName(r.name);
    if (badName) this.fail(ref, '/name', `${JSON.stringify(r.name)} ${badName}`);
    if (this.criuNames.has(r.name)) this.fail(ref, '/name', `the file ${JSON.stringify(r.name)} appears twice`);
    this.criuNames.add(r.name);
    let size = 0;
    r.chunks.forEach((id, i) => {
      if (id >= this.nextChunk) this.fail(ref, `/chunks/${i}`, `refers to chunk ${id}, which is not defined before this record`);
      const length = this.chunkLength[id]!;
      if (i < r.chunks.length - 1 && length !== CHUNK_SIZE) this.fail(ref, `/chunks/${i}`, `chunk ${id} holds ${length} bytes; every chunk but a file's last holds ${CHUNK_SIZE}`);
      this.chunkUsed[id] = 1;
      size += length;
    });
    if (size !== r.size) this.fail(ref, '/size', `is ${r.size}, but the chunks hold ${size} bytes`);
  }

  private define(id: number, kind: SharedObjectKind, refcount: number, ref: RecordRef): void {
    if (id !== this.nextId) {
      this.fail(ref, '/id', id < this.nextId
        ? `object ${id} is defined a second time`
        : `object ids count up from 1 in the order objects are defined: expected ${this.nextId}, not ${id}`);
    }
    if (id >>> PAGE_BITS === this.objects.length) this.objects.push(new ObjectPage());
    const page = this.objects[id >>> PAGE_BITS]!;
    const i = id & PAGE_MASK;
    page.kinds[i] = KIND_CODE.get(kind)!;
    page.declared[i] = refcount;
    page.definedAt[i] = ref;
    this.nextId++;
  }

  private use(ref: RecordRef, field: string, id: number, kinds: readonly SharedObjectKind[], counted: boolean): void {
    if (id < 1 || id >= this.nextId) this.fail(ref, field, `refers to object ${id}, which is not defined before this record`);
    const page = this.objects[id >>> PAGE_BITS]!;
    const i = id & PAGE_MASK;
    const kind = KINDS[page.kinds[i]! - 1]!;
    if (!kinds.includes(kind)) this.fail(ref, field, `refers to object ${id}, ${KIND_NAME[kind]}; expected ${kinds.map((k) => KIND_NAME[k]).join(' or ')}`);
    if (!counted) return;
    if (++page.seen[i]! > page.declared[i]!) this.fail(ref, field, `refers to object ${id}, whose refcount ${page.declared[i]} is already used up by earlier references`);
  }
}

function grown<T extends Uint8Array | Uint16Array | Int32Array | Uint32Array>(a: T, b: T): T {
  b.set(a);
  return b;
}

/** Bytes that base64 text (of a length that is a multiple of 4, padding only at its end) stands for. */
function base64Length(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/** Why a name is no plain file name, or null: it is written into a directory as it is. */
function badFileName(name: string): string | null {
  if (name.includes('/')) return 'is not a plain file name: it holds a /';
  if (name === '.' || name === '..') return 'is not a file name';
  if (name.includes('\0')) return 'holds a NUL byte';
  return null;
}

/** Why a path would not stay inside the directory it is relative to, or null. */
function badRelativePath(path: string): string | null {
  if (path.startsWith('/')) return 'is not a relative path';
  if (path.split('/').some((p) => p === '' || p === '.' || p === '..')) return 'is not a path inside the archive';
  if (path.includes('\0')) return 'holds a NUL byte';
  return null;
}
