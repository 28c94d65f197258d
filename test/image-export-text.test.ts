/**
 * The exporter writes the records of fds, their open files and the objects behind them
 * as JSON text made in SQLite (fdtable_records in sql/internal/image.sql). That text
 * must be exactly what JSON.stringify makes of the record objects: the same fields in
 * the same order, the same escapes, 64-bit values as decimal text.
 */
import { describe, expect, it } from 'vitest';
import { openStore, type ImageRecord } from '../src/index.js';
import { restoreOrderRecords } from '../src/formats/image/exporter.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { tempStorePath } from './helpers/tmp.js';

const AWKWARD = 'q"uote\\back\nnew\tline\u0001\u001f\u007f é ü 中文 \u2028\u2029 😀 </script>';

describe('records the exporter writes as text', () => {
  it('are the text JSON.stringify makes of the records, for awkward strings and 64-bit values too', () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'import', label: 'text' });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'ft' });
    const inode = w.addSharedObject({ kind: 'inode', key: `8:1:${AWKWARD}`, inferred: true, attrs: { note: AWKWARD, big: 2n ** 63n - 1n, list: [1, 2.5, null, true] } });
    const sock = w.addSharedObject({ kind: 'socket', key: 'socket:[1]' });
    w.addSocket({ object: sock, family: 'unix', type: 'stream', state: 'LISTEN', localAddr: `@${AWKWARD}`, localPort: null, peerIno: 2n ** 63n - 2n, attrs: { backlog: 5 } });
    const files = [
      w.addFile({ key: `k${AWKWARD}`, type: 'reg', path: `/tmp/${AWKWARD}`, pos: 2n ** 63n - 1n, flags: 0o100002, mode: 0o100644, mntId: 27, dev: '8:1', inode: 2n ** 53n + 1n, deleted: true, object: inode, unreadable: AWKWARD, attrs: { why: AWKWARD } }),
      w.addFile({ key: 'sock', type: 'socket', path: 'socket:[1]', flags: 2, object: sock, inferred: true }),
      w.addFile({ key: 'bare', type: 'unknown' }),
    ];
    files.forEach((file, fd) => w.addFd({ fdtable: ft, fd, cloexec: fd === 1, file }));
    w.addFd({ fdtable: ft, fd: 7, cloexec: false, file: files[0]! });
    w.addTask({ pid: 1, tgid: 1, fdtable: ft });
    const id = w.done().checkpointId;

    const texts = [...restoreOrderRecords(store, id)].filter((r): r is string => typeof r === 'string');
    expect(texts.length).toBe(4 + 3 + 2);
    for (const t of texts) expect(t).toBe(JSON.stringify(JSON.parse(t)));
    const parsed = texts.map((t) => JSON.parse(t) as ImageRecord);
    expect(parsed.find((r) => r.record === 'file' && r.key === `k${AWKWARD}`)).toEqual({
      record: 'file', id: 3, key: `k${AWKWARD}`, refcount: 2, inferred: false, type: 'reg', path: `/tmp/${AWKWARD}`,
      pos: '9223372036854775807', flags: 0o100002, mode: 0o100644, mntId: 27, dev: '8:1', inode: '9007199254740993', deleted: true,
      object: 2, unreadable: AWKWARD, attrs: { why: AWKWARD },
    });
    expect(parsed.find((r) => r.record === 'object' && r.kind === 'inode')).toEqual({
      record: 'object', id: 2, kind: 'inode', key: `8:1:${AWKWARD}`, refcount: 1, inferred: true,
      attrs: { note: AWKWARD, big: '9223372036854775807', list: [1, 2.5, null, true] }, socket: null,
    });
    expect(parsed.find((r) => r.record === 'object' && r.kind === 'socket')).toEqual({
      record: 'object', id: 4, kind: 'socket', key: 'socket:[1]', refcount: 1, inferred: false, attrs: null,
      socket: {
        family: 'unix', type: 'stream', protocol: null, state: 'LISTEN', localAddr: `@${AWKWARD}`, localPort: null,
        remoteAddr: null, remotePort: null, peerIno: '9223372036854775806', attrs: { backlog: 5 },
      },
    });
    expect(parsed.filter((r) => r.record === 'fd')).toEqual([
      { record: 'fd', fdtable: 1, fd: 0, cloexec: false, file: 3 },
      { record: 'fd', fdtable: 1, fd: 1, cloexec: true, file: 5 },
      { record: 'fd', fdtable: 1, fd: 2, cloexec: false, file: 6 },
      { record: 'fd', fdtable: 1, fd: 7, cloexec: false, file: 3 },
    ]);
    store.close();
  });

  it('are the same records the exporter gives as objects', () => {
    const store = openStore(tempStorePath());
    const id = shapesCheckpoint(store, { orphans: true });
    const mixed = [...restoreOrderRecords(store, id)];
    expect(mixed.some((r) => typeof r === 'string')).toBe(true);
    const asObjects = mixed.map((r) => (typeof r === 'string' ? (JSON.parse(r) as ImageRecord) : r));
    for (const r of asObjects) expect(Object.keys(r)[0]).toBe('record');
    expect(asObjects.filter((r) => r.record === 'fd').length).toBe(17);
    store.close();
  });
});
