/**
 * The writer's bounded memory: shared objects wait in a window before they are
 * inserted, keys pass a fixed-size Bloom filter, kinds of recent objects sit in a ring.
 * With the smallest budget every one of these overflows many times; what is stored
 * must still be exact.
 */
import { describe, expect, it } from 'vitest';
import { openStore, type CkptdbError, type Store } from '../src/index.js';
import { KeyFilter, hashKey } from '../src/store/writer/keyFilter.js';
import { tempStorePath } from './helpers/tmp.js';

function objectRows(store: Store, checkpointId: number): Map<string, { id: number; refcount: number; inferred: number }> {
  const rows = store.db.prepare('SELECT id, kind, key, refcount, inferred FROM shared_objects WHERE checkpoint_id = ?').all(checkpointId) as {
    id: number; kind: string; key: string; refcount: number; inferred: number;
  }[];
  return new Map(rows.map((r) => [`${r.kind}/${r.key}`, { id: r.id, refcount: r.refcount, inferred: r.inferred }]));
}

describe('writer batches', () => {
  it('dedupes every key exactly when the key filter is saturated and objects are long flushed', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'import' }, { memoryBudget: 1 });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'ft' });
    // 40,000 keys in a 4 KiB filter (32,768 bits): most new keys look seen and take the lookup
    const pipes: number[] = [];
    for (let i = 0; i < 20_000; i++) pipes.push(w.addSharedObject({ kind: 'pipe', key: `pipe:[${i}]` }));
    for (let i = 0; i < 20_000; i++) {
      const file = w.addFile({ key: `f${i}`, type: 'pipe', object: pipes[i]! });
      w.addFd({ fdtable: ft, fd: i, cloexec: false, file });
    }
    // every key again, long after its object was inserted: the same ids, no new rows
    for (let i = 0; i < 20_000; i += 7) {
      expect(w.addSharedObject({ kind: 'pipe', key: `pipe:[${i}]` })).toBe(pipes[i]);
      const again = w.addFile({ key: `f${i}`, type: 'pipe', object: pipes[i]! });
      w.addFd({ fdtable: ft, fd: 20_000 + i, cloexec: true, file: again });
    }
    // the same key in another kind is another object
    const inode = w.addSharedObject({ kind: 'inode', key: 'pipe:[5]' });
    expect(pipes).not.toContain(inode);
    const r = w.done();
    expect(r.counts.sharedObjects).toBe(1 + 20_000 + 20_000 + 1);
    expect(r.counts.fds).toBe(20_000 + Math.ceil(20_000 / 7));
    expect(r.peakBufferedBytes).toBeLessThan(64 * 1024);
    const rows = objectRows(store, r.checkpointId);
    expect(rows.size).toBe(r.counts.sharedObjects);
    expect(rows.get('file/f0')!.refcount).toBe(2);
    expect(rows.get('file/f1')!.refcount).toBe(1);
    expect(rows.get('file/f7')!.refcount).toBe(2);
    expect(rows.get('pipe/pipe:[7]')!.refcount).toBe(1);
    expect(rows.get('fdtable/ft')!.refcount).toBe(0);
    expect(store.verify(r.checkpointId)).toEqual([]);
    store.close();
  });

  it('checks the kind of an object too old for the ring of recent kinds, and counts its references', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'import' }, { memoryBudget: 1 });
    const net = w.addSharedObject({ kind: 'ns', key: 'net:[1]' });
    const mm = w.addSharedObject({ kind: 'mm', key: 'mm:1' });
    for (let i = 0; i < 10_000; i++) w.addSharedObject({ kind: 'inode', key: `8:1:${i}` });
    for (let pid = 1; pid <= 3; pid++) w.addTask({ pid, tgid: 1, mm, namespaces: { net } });
    const err = (() => {
      try {
        w.addTask({ pid: 4, tgid: 4, mm: net });
      } catch (e) {
        return e as CkptdbError;
      }
      return null;
    })();
    expect(err?.code).toBe('WRONG_KIND');
    expect(err?.message).toBe(`task 4: mm refers to object ${net} of kind ns; expected mm`);
    expect(w.isOpen).toBe(false);
    expect(store.listCheckpoints()).toEqual([]);

    const w2 = store.beginCheckpoint({ source: 'import' }, { memoryBudget: 1 });
    const net2 = w2.addSharedObject({ kind: 'ns', key: 'net:[1]' });
    const mm2 = w2.addSharedObject({ kind: 'mm', key: 'mm:1' });
    for (let i = 0; i < 10_000; i++) w2.addSharedObject({ kind: 'inode', key: `8:1:${i}` });
    for (let pid = 1; pid <= 3; pid++) w2.addTask({ pid, tgid: 1, mm: mm2, namespaces: { net: net2 } });
    w2.markInferred(net2);
    const r = w2.done();
    const rows = objectRows(store, r.checkpointId);
    expect(rows.get('ns/net:[1]')).toEqual({ id: net2, refcount: 3, inferred: 1 });
    expect(rows.get('mm/mm:1')).toEqual({ id: mm2, refcount: 3, inferred: 0 });
    expect(store.verify()).toEqual([]);
    store.close();
  });

  it('turns foreign key checks back on after done, abort and a failed write', () => {
    const store = openStore(tempStorePath());
    const fk = () => store.db.pragma('foreign_keys', { simple: true });
    const w = store.beginCheckpoint({ source: 'import' });
    expect(fk()).toBe(0);
    w.done();
    expect(fk()).toBe(1);
    store.beginCheckpoint({ source: 'import' }).abort();
    expect(fk()).toBe(1);
    const w3 = store.beginCheckpoint({ source: 'import' });
    expect(() => w3.addFd({ fdtable: 12345, fd: 1, cloexec: false, file: 12346 })).toThrowError(/does not exist/);
    expect(fk()).toBe(1);
    expect(() => store.db.prepare('INSERT INTO fds (checkpoint_id, fdtable_id, fd, cloexec, file_id) VALUES (999, 999, 1, 0, 999)').run())
      .toThrowError(/FOREIGN KEY/);
    store.close();
  });

  it('gives new objects ids above every id in the store, also after the newest checkpoint was deleted', () => {
    const store = openStore(tempStorePath());
    const a = store.beginCheckpoint({ source: 'import' });
    const first = a.addSharedObject({ kind: 'pipe', key: 'p' });
    const idA = a.done().checkpointId;
    const b = store.beginCheckpoint({ source: 'import' });
    const second = b.addSharedObject({ kind: 'pipe', key: 'p' });
    expect(second).toBe(first + 1);
    store.deleteCheckpoint(b.done().checkpointId);
    const c = store.beginCheckpoint({ source: 'import' });
    expect(c.addSharedObject({ kind: 'pipe', key: 'p' })).toBe(first + 1);
    c.done();
    expect(store.listCheckpoints().map((x) => x.id)).toEqual([idA, idA + 1]);
    expect(store.verify()).toEqual([]);
    store.close();
  });
});

describe('key filter', () => {
  it('never forgets a key it was given, and tells most new keys apart', () => {
    const filter = new KeyFilter(64 * 1024);
    for (let i = 0; i < 10_000; i++) expect(filter.testAndAdd(hashKey(1, `key-${i}`))).toBe(false);
    for (let i = 0; i < 10_000; i++) expect(filter.testAndAdd(hashKey(1, `key-${i}`))).toBe(true);
    let seen = 0;
    for (let i = 0; i < 10_000; i++) if (filter.testAndAdd(hashKey(2, `key-${i}`))) seen++;
    // 20,000 keys in 524,288 bits, four probes each: about one in a thousand looks seen
    expect(seen).toBeLessThan(100);
  });
});
