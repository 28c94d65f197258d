/**
 * A Bloom filter over the (kind, key) pairs one checkpoint has added. Its size is fixed,
 * so the writer's memory stays flat however many objects come. "Never added" is
 * certain and lets a new object skip the lookup in the UNIQUE (checkpoint_id, kind, key)
 * index; "maybe" sends it to that lookup, which decides exactly. As a checkpoint grows
 * past what the filter holds well, more keys take the lookup; none is ever wrong.
 */

/** Bits set per key. */
const PROBES = 4;
const MIN_BYTES = 4096;

/** A 32-bit hash of a key within its kind (FNV-1a over UTF-16 units, then murmur3's finaliser). */
export function hashKey(kind: number, key: string): number {
  let h = Math.imul(kind + 1, 0x9e3779b1) ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return mix(h);
}

/** A 32-bit hash of an id within a domain of ids (a kind code of its own, beside the object kinds'). */
export function hashIds(domain: number, id: number): number {
  return mix(Math.imul(domain + 1, 0x9e3779b1) ^ id ^ Math.floor(id / 0x100000000));
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class KeyFilter {
  private readonly words: Int32Array;
  private readonly mask: number;

  /** The largest power of two that fits in `bytes`, and at least 4 KiB. */
  constructor(bytes: number) {
    let size = MIN_BYTES;
    while (size * 2 <= bytes && size < 2 ** 28) size *= 2;
    this.words = new Int32Array(size / 4);
    this.mask = size * 8 - 1;
  }

  get bytes(): number {
    return this.words.byteLength;
  }

  /** Adds the key's hash; true when every bit was set already, i.e. the key may have been added before. */
  testAndAdd(hash: number): boolean {
    // double hashing: the probes step by a second, odd hash
    const step = mix(hash ^ 0x5bd1e995) | 1;
    let seen = true;
    for (let i = 0; i < PROBES; i++) {
      const bit = (hash + Math.imul(i, step)) & this.mask;
      const word = bit >>> 5;
      const m = 1 << (bit & 31);
      if ((this.words[word] & m) === 0) {
        seen = false;
        this.words[word] |= m;
      }
    }
    return seen;
  }
}
