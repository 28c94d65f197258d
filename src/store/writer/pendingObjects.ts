/**
 * The shared objects added since the last flush, not yet inserted. The writer gives
 * their ids itself (consecutive, above every id in the table: it holds the write
 * lock), so references to them are counted here, and each row is inserted once with
 * the refcount it has by then. Most objects are referred to right after they are made
 * (an fd right after its open file, a file right after its inode), so most refcounts
 * never need an UPDATE.
 *
 * Everything lives in arrays of a fixed capacity, reused from one flush to the next:
 * no per-object allocation beyond the key and attrs strings themselves.
 */

export interface PendingRow {
  id: number;
  kind: number;
  key: string;
  refcount: number;
  inferred: number;
  attrs: string | null;
}

export class PendingObjects {
  /** Id of the first pending object; the others follow it without gaps. */
  private firstId: number;
  private count = 0;
  private readonly kinds: Uint8Array;
  private readonly hashes: Int32Array;
  private readonly inferred: Uint8Array;
  private readonly refcounts: Int32Array;
  private readonly keys: string[];
  private readonly attrs: (string | null)[];
  /** Open addressing by key hash: slot + 1, 0 for empty. */
  private readonly index: Int32Array;
  private readonly indexMask: number;

  constructor(readonly capacity: number, nextId: number) {
    this.firstId = nextId;
    this.kinds = new Uint8Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.inferred = new Uint8Array(capacity);
    this.refcounts = new Int32Array(capacity);
    this.keys = new Array<string>(capacity).fill('');
    this.attrs = new Array<string | null>(capacity).fill(null);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    this.indexMask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** The id the next object will get. */
  get nextId(): number {
    return this.firstId + this.count;
  }

  holds(id: number): boolean {
    return id >= this.firstId && id < this.firstId + this.count;
  }

  /** The pending object with this kind and key, or 0. */
  find(kind: number, key: string, hash: number): number {
    for (let i = hash & this.indexMask; ; i = (i + 1) & this.indexMask) {
      const entry = this.index[i]!;
      if (entry === 0) return 0;
      const slot = entry - 1;
      if (this.hashes[slot] === hash && this.kinds[slot] === kind && this.keys[slot] === key) return this.firstId + slot;
    }
  }

  /** Adds an object (the caller flushes first when full); returns its id. */
  add(kind: number, key: string, hash: number, inferred: boolean, attrs: string | null): number {
    const slot = this.count++;
    this.kinds[slot] = kind;
    this.hashes[slot] = hash;
    this.inferred[slot] = inferred ? 1 : 0;
    this.refcounts[slot] = 0;
    this.keys[slot] = key;
    this.attrs[slot] = attrs;
    let i = hash & this.indexMask;
    while (this.index[i] !== 0) i = (i + 1) & this.indexMask;
    this.index[i] = slot + 1;
    return this.firstId + slot;
  }

  /** One more reference to a pending object. */
  addRef(id: number): void {
    this.refcounts[id - this.firstId]++;
  }

  markInferred(id: number): void {
    this.inferred[id - this.firstId] = 1;
  }

  /** Hands every pending row, in id order, to `insert`, and starts empty again. */
  flush(insert: (row: PendingRow) => void): void {
    const row: PendingRow = { id: 0, kind: 0, key: '', refcount: 0, inferred: 0, attrs: null };
    for (let slot = 0; slot < this.count; slot++) {
      row.id = this.firstId + slot;
      row.kind = this.kinds[slot]!;
      row.key = this.keys[slot]!;
      row.refcount = this.refcounts[slot]!;
      row.inferred = this.inferred[slot]!;
      row.attrs = this.attrs[slot]!;
      insert(row);
      // let the strings go now rather than when the slot is reused
      this.keys[slot] = '';
      this.attrs[slot] = null;
    }
    this.firstId += this.count;
    this.count = 0;
    this.index.fill(0);
  }
}
