/**
 * The placer's bucket index (src/capture/proc/bucketIndex.ts) keeps keys as numbers,
 * or as text where numbers would not read back the same: a key must be found again
 * exactly, and only that key, even when hashes collide, across the table's growth.
 */
import { describe, expect, it } from 'vitest';
import { BucketIndex, bucketHash } from '../src/capture/proc/bucketIndex.js';

describe('bucket index', () => {
  it('finds every key it filed, and only those, across growth', () => {
    const index = new BucketIndex();
    const keys: string[] = [];
    for (let i = 0; i < 20_000; i++) keys.push(`${20 + (i % 7)}|${1_000_000 + i}|${i % 3 === 0 ? 32768 : 32770}|${i % 2 ? 'reg' : 'pipe'}|`);
    keys.forEach((k, file) => index.add(k, bucketHash(k), file));
    keys.forEach((k, file) => expect(index.find(k, bucketHash(k))).toBe(file));
    for (const k of ['20|1000000|32770|reg|', '20|999999|32768|pipe|', '21|1000001|32768|pipe|x']) expect(index.find(k, bucketHash(k))).toBe(-1);
  });

  it('tells keys apart when their hashes collide', () => {
    const index = new BucketIndex();
    const same = 12345;
    const keys = [
      '25|4711|32768|reg|',
      '25|4711|32768|chr|',
      '26|4711|32768|reg|',
      '25|4711|32769|reg|',
      // kept as text: an anon file's own id, no inode, an inode beyond 2^53, a leading zero
      '15|2048|2|eventfd|ffff8881',
      '15|2048|2|eventfd|ffff8882',
      '15||2|anon|',
      '25|18446744073709551615|32768|reg|',
      '25|18446744073709551614|32768|reg|',
      '25|04711|32768|reg|',
    ];
    keys.forEach((k, file) => index.add(k, same, file));
    keys.forEach((k, file) => expect(index.find(k, same)).toBe(file));
    expect(index.find('25|4711|32768|fifo|', same)).toBe(-1);
    expect(index.find('15|2048|2|eventfd|ffff8883', same)).toBe(-1);
    expect(index.find('25|18446744073709551613|32768|reg|', same)).toBe(-1);
  });
});
