/**
 * The placer's buckets by key (fdRecords.ts bucketKey: `mount|inode|flags|type|id`),
 * each found through the first file placed in it. A Map of key strings held some
 * hundred bytes per open file (the string, the entry and its share of the table),
 * most of a large capture's placing state; here a key is a hash in an open-addressing
 * table and its parts as numbers in typed arrays, some 40 bytes per bucket. A key
 * whose parts do not read back as the same text (an anon file's own id, an inode
 * beyond 2^53, a kernel that prints no inode) is kept as its text, so equality stays
 * exact whatever the hash.
 */
import { FILE_TYPES, type FileType } from '../../store/writer/types.js';
import { hashKey } from '../../store/writer/keyFilter.js';
import { grownArray } from './grownArray.js';

const TYPE_CODE = new Map<string, number>(FILE_TYPES.map((t, i) => [t, i]));

/** The text of a non-negative integer that reads back as the same number, or NaN. */
function exactInteger(text: string | undefined): number {
  if (text === undefined || text === '') return NaN;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 && String(n) === text ? n : NaN;
}

/** The hash a key is filed under. */
export function bucketHash(key: string): number {
  return hashKey(0, key);
}

export class BucketIndex {
  /** Open addressing by hash: first file + 1, 0 for empty. */
  private slots = new Int32Array(4096);
  private filled = 0;
  /** By the number of a bucket's first file. */
  private hashes = new Int32Array(1024);
  private mounts = new Float64Array(1024);
  private inodes = new Float64Array(1024);
  private flags = new Float64Array(1024);
  private types = new Uint8Array(1024);
  /** Keys whose parts would not read back as their text. */
  private readonly texts = new Map<number, string>();

  /** The first file of the bucket with this key, or -1. */
  find(key: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = this.slots[i]!;
      if (entry === 0) return -1;
      const file = entry - 1;
      if (this.hashes[file] === hash && this.keyOf(file) === key) return file;
    }
  }

  /** Files a new bucket under `key`, found through `file` (not yet in any bucket). */
  add(key: string, hash: number, file: number): void {
    if (file >= this.hashes.length) this.growFiles(file);
    this.hashes[file] = hash;
    const parts = key.split('|');
    const mount = exactInteger(parts[0]);
    const inode = exactInteger(parts[1]);
    const flags = exactInteger(parts[2]);
    const type = TYPE_CODE.get(parts[3]!);
    if (parts.length !== 5 || parts[4] !== '' || Number.isNaN(mount + inode + flags) || type === undefined) {
      this.texts.set(file, key);
    } else {
      this.mounts[file] = mount;
      this.inodes[file] = inode;
      this.flags[file] = flags;
      this.types[file] = type;
    }
    if ((this.filled + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.insert(file);
    this.filled++;
  }

  private keyOf(file: number): string {
    return this.texts.get(file) ?? `${this.mounts[file]}|${this.inodes[file]}|${this.flags[file]}|${FILE_TYPES[this.types[file]!] as FileType}|`;
  }

  private insert(file: number): void {
    const mask = this.slots.length - 1;
    let i = this.hashes[file]! & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = file + 1;
  }

  private rehash(size: number): void {
    const old = this.slots;
    this.slots = new Int32Array(size);
    for (const entry of old) if (entry !== 0) this.insert(entry - 1);
  }

  private growFiles(file: number): void {
    let size = this.hashes.length;
    while (size <= file) size *= 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T): T => grownArray(a, size);
    this.hashes = grow(this.hashes);
    this.mounts = grow(this.mounts);
    this.inodes = grow(this.inodes);
    this.flags = grow(this.flags);
    this.types = grow(this.types);
  }
}
