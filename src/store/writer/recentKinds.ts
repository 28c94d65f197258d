/**
 * The kinds of the most recently added objects, by id, in a ring of fixed size: ids
 * are consecutive, so the ring holds exactly the last `capacity` of them. A reference
 * to an older object asks SQLite for its kind.
 */
export class RecentKinds {
  private readonly codes: Uint8Array;
  private readonly mask: number;
  private lastId = 0;

  /** The largest power of two of entries that fits in `bytes`, at least 4096. */
  constructor(bytes: number) {
    let size = 4096;
    while (size * 2 <= bytes && size < 2 ** 28) size *= 2;
    this.codes = new Uint8Array(size);
    this.mask = size - 1;
  }

  get bytes(): number {
    return this.codes.byteLength;
  }

  /** Records the kind of the newest object. */
  add(id: number, code: number): void {
    this.codes[id & this.mask] = code;
    this.lastId = id;
  }

  /** The kind code of object `id`, or -1 when it is not among the recent ones. */
  get(id: number): number {
    if (id > this.lastId || this.lastId - id > this.mask) return -1;
    return this.codes[id & this.mask]!;
  }
}
