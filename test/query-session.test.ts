import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, openStoreKysely, QuerySession, storeKysely } from '../src/index.js';
import { latestVersion, loadMigrations, migrate } from '../src/store/migrate.js';
import { APPLICATION_ID } from '../src/store/open.js';
import { knownTreeStore } from './helpers/knownTreeStore.js';
import { tempStorePath } from './helpers/tmp.js';

describe('query session (library)', () => {
  it('gives a typed kysely instance over tables and views', async () => {
    const path = knownTreeStore();
    const db = openStoreKysely(path);
    try {
      const rows = await db
        .selectFrom('open_fds')
        .select(['pid', 'fd', 'path', 'shared'])
        .where('checkpoint_id', '=', 1)
        .where('type', '=', 'socket')
        .orderBy('pid').orderBy('fd')
        .execute();
      expect(rows).toEqual([
        { pid: 1100, fd: 3, path: 'socket:[6001]', shared: 2 },
        { pid: 1200, fd: 3, path: 'socket:[6001]', shared: 2 },
        { pid: 1200, fd: 6, path: 'socket:[6002]', shared: 1 },
        { pid: 1200, fd: 7, path: 'socket:[6003]', shared: 1 },
        { pid: 1200, fd: 8, path: 'socket:[6004]', shared: 1 },
        { pid: 1300, fd: 3, path: 'socket:[6005]', shared: 1 },
      ]);
      const holders = await db.selectFrom('fd_holders').select(['pid', 'tid', 'fd']).where('fd', '=', 1).orderBy('pid').orderBy('tid').execute();
      expect(holders).toEqual([
        { pid: 1000, tid: 1000, fd: 1 }, { pid: 1100, tid: 1100, fd: 1 }, { pid: 1100, tid: 1102, fd: 1 },
        { pid: 1200, tid: 1200, fd: 1 }, { pid: 1201, tid: 1201, fd: 1 }, { pid: 1300, tid: 1300, fd: 1 },
      ]);
      const threads = await db.selectFrom('task_info').select(['tid', 'pid', 'parent_comm']).where('is_thread', '=', 1).orderBy('tid').execute();
      expect(threads).toEqual([{ tid: 1101, pid: 1100, parent_comm: 'bash' }, { tid: 1102, pid: 1100, parent_comm: 'bash' }]);
      // the connection is read-only
      await expect(db.deleteFrom('fds').execute()).rejects.toThrowError(/readonly/);
    } finally {
      await db.destroy();
    }
    // storeKysely on a store's own connection
    const store = openStore(path);
    const k = storeKysely(store.db);
    const n = await k.selectFrom('processes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(n.n).toBe(5);
    await k.destroy();
    expect(store.db.open).toBe(false);
  });

  it('reads 64-bit values exactly and tells apart columns of one name', () => {
    const path = tempStorePath();
    const store = openStore(path);
    const w = store.beginCheckpoint({ source: 'import' });
    const ft = w.addSharedObject({ kind: 'fdtable', key: 'ft' });
    const file = w.addFile({ key: 'f', type: 'reg', path: '/big', pos: 2n ** 62n + 1n, inode: 2n ** 53n + 1n });
    w.addFd({ fdtable: ft, fd: 0, cloexec: false, file });
    w.addTask({ pid: 1, tgid: 1, fdtable: ft });
    w.done();
    store.close();
    const session = QuerySession.open(path);
    try {
      expect([...session.sql('SELECT pos, inode, fd FROM open_fds').rows]).toEqual([{ pos: 2n ** 62n + 1n, inode: 2n ** 53n + 1n, fd: 0 }]);
      const r = session.sql('SELECT t.id, f.id, f.id FROM tasks t, files f');
      expect(r.columns).toEqual(['id', 'id_2', 'id_3']);
      expect([...session.canned('open_files').rows].map((f) => f.pos)).toEqual([2n ** 62n + 1n]);
    } finally {
      session.close();
    }
  });

  it('upgrades a store of an older schema before reading it, and refuses a store of no checkpoints kindly', () => {
    const path = tempStorePath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    migrate(old, loadMigrations().filter((m) => m.version === 1));
    expect(old.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    old.close();
    const session = QuerySession.open(path);
    try {
      expect(session.db.pragma('user_version', { simple: true })).toBe(latestVersion());
      expect([...session.sql('SELECT count(*) AS n FROM open_fds').rows]).toEqual([{ n: 0 }]);
      expect(() => session.canned('pipes')).toThrowError(/^no checkpoints in /);
    } finally {
      session.close();
    }
  });
});
