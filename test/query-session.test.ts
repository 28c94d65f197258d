import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, openStoreKysely, QuerySession, storeKysely } from '../src/index.js';
import { latestVersion, loadMigrations, migrate } from '../src/store/migrate.js';
import { APPLICATION_ID } from '../src/store/open.js';
import { copyStore, useLiveTree } from './helpers/liveTree.js';
import { fdCount, fdRefs } from './helpers/procTreeShape.js';
import { tempStorePath } from './helpers/tmp.js';

const live = useLiveTree();

describe('query session (library)', () => {
  it('gives a typed kysely instance over tables and views', async () => {
    const { tree, shape, newest } = live();
    const path = copyStore(live());
    const db = openStoreKysely(path);
    try {
      const rows = await db
        .selectFrom('open_fds')
        .select(['pid', 'tid', 'fd', 'path', 'shared'])
        .where('checkpoint_id', '=', newest)
        .where('type', '=', 'socket')
        .orderBy('pid').orderBy('tid').orderBy('fd')
        .execute();
      expect(rows).toEqual(
        fdRefs(shape)
          .filter((f) => shape.files[f.file].type === 'socket')
          .sort((a, b) => a.pid - b.pid || a.tid - b.tid || a.fd - b.fd)
          .map((f) => ({ pid: f.pid, tid: f.tid, fd: f.fd, path: shape.files[f.file].path, shared: fdCount(shape, f.file) })),
      );
      const holders = await db.selectFrom('fd_holders').select(['pid', 'tid', 'fd']).where('checkpoint_id', '=', newest).where('fd', '=', 1).orderBy('pid').orderBy('tid').execute();
      expect(holders).toEqual(fdRefs(shape).filter((f) => f.fd === 1).map((f) => ({ pid: f.pid, tid: f.tid, fd: 1 })).sort((a, b) => a.pid - b.pid || a.tid - b.tid));
      const threads = await db.selectFrom('task_info').select(['tid', 'pid', 'comm', 'parent_comm']).where('checkpoint_id', '=', newest).where('is_thread', '=', 1).orderBy('tid').execute();
      expect(threads).toEqual([
        ...tree.threads.map((tid) => ({ tid, pid: tree.c2, comm: 'worker', parent_comm: tree.comm })),
        { tid: tree.t, pid: tree.c3, comm: 'own-fds', parent_comm: tree.comm },
      ].sort((a, b) => a.tid - b.tid));
      // the connection is read-only
      await expect(db.deleteFrom('fds').execute()).rejects.toThrowError(/readonly/);
    } finally {
      await db.destroy();
    }
    // storeKysely on a store's own connection
    const store = openStore(path);
    const k = storeKysely(store.db);
    const n = await k.selectFrom('processes').select((eb) => eb.fn.countAll<number>().as('n')).where('checkpoint_id', '=', newest).executeTakeFirstOrThrow();
    expect(n.n).toBe(shape.processes.length);
    await k.destroy();
    expect(store.db.open).toBe(false);
  });

  // written through the writer: no file system here has inode numbers above 2^53
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
