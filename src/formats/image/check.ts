import type { SharedObjectKind } from '../../capture/types.js';
import type { FileRecord, ImageRecord, ObjectRecord, TaskRecord } from './types.js';

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

/**
 * The rules of an image that a schema cannot say: the checkpoint first; object ids
 * 1, 2, 3 ... in order of definition; every reference to an object defined before it,
 * of a kind that fits; parents before children; each pid once; every refcount equal to
 * the references that point to the object.
 *
 * Per shared object it keeps 13 bytes (kind, declared refcount, references seen, where
 * it was defined) in typed arrays: a million objects cost 13 MB; nothing else grows
 * with the image but a set of pids.
 */
export class ImageChecker {
  private seenCheckpoint = false;
  private nextId = 1;
  private kinds = new Uint8Array(1024);
  private declared = new Int32Array(1024);
  private seen = new Int32Array(1024);
  private definedAt = new Uint32Array(1024);
  private readonly pids = new Set<number>();
  /** Parents not seen yet, with a child that came before them. */
  private readonly awaitedParents = new Map<number, { child: number; ref: RecordRef }>();

  constructor(private readonly fail: Fail) {}

  check(r: ImageRecord, ref: RecordRef): void {
    if (!this.seenCheckpoint) {
      if (r.record !== 'checkpoint') this.fail(ref, '/record', 'the first record must be the checkpoint');
      this.seenCheckpoint = true;
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
    }
  }

  /** After the last record: is anything missing? */
  finish(endRef: RecordRef): void {
    if (!this.seenCheckpoint) this.fail(endRef, '', 'the image holds no checkpoint record');
    for (let id = 1; id < this.nextId; id++) {
      if (this.seen[id] !== this.declared[id]) {
        this.fail(this.definedAt[id]!, '/refcount', `object ${id} has refcount ${this.declared[id]}, but ${this.seen[id]} references in the image point to it`);
      }
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

  private define(id: number, kind: SharedObjectKind, refcount: number, ref: RecordRef): void {
    if (id !== this.nextId) {
      this.fail(ref, '/id', id < this.nextId
        ? `object ${id} is defined a second time`
        : `object ids count up from 1 in the order objects are defined: expected ${this.nextId}, not ${id}`);
    }
    if (id >= this.kinds.length) this.grow();
    this.kinds[id] = KIND_CODE.get(kind)!;
    this.declared[id] = refcount;
    this.definedAt[id] = ref;
    this.nextId++;
  }

  private use(ref: RecordRef, field: string, id: number, kinds: readonly SharedObjectKind[], counted: boolean): void {
    if (id >= this.nextId) this.fail(ref, field, `refers to object ${id}, which is not defined before this record`);
    const kind = KINDS[this.kinds[id]! - 1]!;
    if (!kinds.includes(kind)) this.fail(ref, field, `refers to object ${id}, ${KIND_NAME[kind]}; expected ${kinds.map((k) => KIND_NAME[k]).join(' or ')}`);
    if (!counted) return;
    if (++this.seen[id]! > this.declared[id]!) this.fail(ref, field, `refers to object ${id}, whose refcount ${this.declared[id]} is already used up by earlier references`);
  }

  private grow(): void {
    const n = this.kinds.length * 2;
    const grown = <T extends Uint8Array | Int32Array | Uint32Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.kinds = grown(this.kinds, new Uint8Array(n));
    this.declared = grown(this.declared, new Int32Array(n));
    this.seen = grown(this.seen, new Int32Array(n));
    this.definedAt = grown(this.definedAt, new Uint32Array(n));
  }
}
