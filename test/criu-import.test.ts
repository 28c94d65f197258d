import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { exportCriu, importCriu, listCriuImages, verifyCriuStorage } from '../src/formats/criu/index.js';
import { ARGS, buildFixtureWithoutZombie, critDecode, critX } from './helpers/criuFixture.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

function rows(store: Store, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  return store.db.prepare(sql).all(...params) as Record<string, unknown>[];
}

async function imported(): Promise<{ store: Store; id: number }> {
  const store = openStore(tempStorePath());
  const r = await importCriu(store, fixtureDir());
  return { store, id: r.checkpointId };
}

describe.skipIf(skipWithout(CRIT))('importCriu of a directory made by crit encode', () => {
  it('stores the process tree, threads and what core and ids images say of each task', async () => {
    const { store, id } = await imported();
    const tasks = rows(store, `
      SELECT pid, tgid, ppid, pgid, sid, state, comm, uid, euid, suid, fsuid, gid, exe, cwd, root,
             sig_pending, sig_blocked, sig_ignored, sig_caught, attrs,
             (SELECT key FROM shared_objects WHERE id = mm_id) AS mm,
             (SELECT key FROM shared_objects WHERE id = fdtable_id) AS fdtable,
             (SELECT key FROM shared_objects WHERE id = fs_id) AS fs,
             (SELECT key FROM shared_objects WHERE id = sighand_id) AS sighand
      FROM tasks WHERE checkpoint_id = ? ORDER BY pid`, id);
    // the process's pending signals (signals_s) and its umask (fs image) are each task's, as /proc shows them
    const attrs = (shared: string, umask: string | null, leader: boolean) => JSON.stringify({
      sig_shared_pending: shared, ...(leader ? { personality: 0, loginuid: 1000, oom_score_adj: 0 } : {}), sched_policy: 0, sched_nice: 0, ...(umask ? { umask } : {}),
    });
    const leaderAttrs = attrs('0000000000000000', '0022', true);
    const common = { sid: 100, sig_ignored: '0000000000001000', sig_caught: '0000000000004000', root: '/' };
    expect(tasks).toEqual([
      { ...common, pid: 100, tgid: 100, ppid: null, pgid: 100, state: 'alive', comm: 'server', uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 1000, exe: '/usr/bin/server', cwd: '/srv/app', sig_pending: '0000000000000000', sig_blocked: '0000000000010000', attrs: attrs('0000000000000200', '0022', true), mm: 'vm:1', fdtable: 'files:2', fs: 'fs:3', sighand: 'sighand:4' },
      { ...common, pid: 101, tgid: 100, ppid: null, pgid: 100, state: 'alive', comm: 'server-io', uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 1000, exe: '/usr/bin/server', cwd: '/srv/app', sig_pending: '0000000000000800', sig_blocked: '0000000000000002', attrs: attrs('0000000000000200', '0022', false), mm: 'vm:1', fdtable: 'files:2', fs: 'fs:3', sighand: 'sighand:4' },
      { ...common, pid: 102, tgid: 100, ppid: null, pgid: 100, state: 'alive', comm: 'server-gc', uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, exe: '/usr/bin/server', cwd: '/srv/app', sig_pending: '0000000000000000', sig_blocked: '0000000000010000', attrs: attrs('0000000000000200', '0022', false), mm: 'vm:1', fdtable: 'files:2', fs: 'fs:3', sighand: 'sighand:4' },
      { ...common, pid: 110, tgid: 110, ppid: 100, pgid: 100, state: 'alive', comm: 'worker', uid: 1001, euid: 1001, suid: 1001, fsuid: 1001, gid: 1001, exe: '/usr/bin/worker', cwd: '/srv/app', sig_pending: '0000000000000000', sig_blocked: '0000000000010000', attrs: leaderAttrs, mm: 'vm:11', fdtable: 'files:12', fs: 'fs:13', sighand: 'sighand:14' },
      { ...common, pid: 120, tgid: 120, ppid: 100, pgid: 120, state: 'T', comm: 'logger', uid: 1002, euid: 1002, suid: 1002, fsuid: 1002, gid: 1002, exe: '/usr/bin/server', cwd: '/var/log', sig_pending: '0000000000000000', sig_blocked: '0000000000010000', attrs: attrs('0000000000000000', '0077', true), mm: 'vm:21', fdtable: 'files:22', fs: 'fs:23', sighand: 'sighand:24' },
      { ...common, pid: 130, tgid: 130, ppid: 110, pgid: 100, state: 'alive', comm: 'helper', uid: 1001, euid: 1001, suid: 1001, fsuid: 1001, gid: 1001, exe: '/usr/bin/worker', cwd: '/srv/app', sig_pending: '0000000000000000', sig_blocked: '0000000000010000', attrs: attrs('0000000000000000', '0000', true), mm: 'vm:31', fdtable: 'files:12', fs: 'fs:33', sighand: 'sighand:34' },
      { pid: 140, tgid: 140, ppid: 100, pgid: 100, sid: 100, state: 'Z', comm: 'reaped', uid: null, euid: null, suid: null, fsuid: null, gid: null, exe: null, cwd: null, root: null, sig_pending: '0000000000000000', sig_blocked: '0000000000000000', sig_ignored: '0000000000000000', sig_caught: '0000000000000000', attrs: '{"sig_shared_pending":"0000000000000000","exit_code":9,"personality":0}', mm: null, fdtable: null, fs: null, sighand: null },
    ]);
    const cp = store.getCheckpoint(id);
    expect({ source: cp.source, root_pid: cp.root_pid, frozen: cp.frozen, label: cp.label }).toEqual({ source: 'criu', root_pid: 100, frozen: 1, label: fixtureDir().split('/').at(-1) });
    expect(JSON.parse(cp.meta!).criu.inventory).toEqual({
      img_version: 2, fdinfo_per_id: true, ns_per_id: true, root_cg_set: 1, lsmtype: 0, dump_uptime: 123456789, pre_dump_mode: 1, tcp_close: false, network_lock_method: 1,
    });
    const limits = rows(store, `SELECT t.pid, r.resource, r.soft, r.hard FROM task_rlimits r JOIN tasks t ON t.id = r.task_id WHERE r.resource IN ('nofile', 'stack', 'cpu') ORDER BY t.pid, r.resource`);
    expect(limits.filter((l) => l.pid === 100)).toEqual([
      { pid: 100, resource: 'cpu', soft: null, hard: null },
      { pid: 100, resource: 'nofile', soft: 1024, hard: 524288 },
      { pid: 100, resource: 'stack', soft: 8388608, hard: null },
    ]);
    expect(new Set(limits.map((l) => l.pid))).toEqual(new Set([100, 110, 120, 130]));
    const ns = rows(store, `SELECT t.pid, n.type, o.key FROM task_namespaces n JOIN tasks t ON t.id = n.task_id JOIN shared_objects o ON o.id = n.ns_id WHERE t.pid = 101 ORDER BY n.type`);
    expect(ns.map((n) => `${n.type}=${n.key}`)).toEqual(['cgroup=cgroup:11', 'ipc=ipc:7', 'mnt=mnt:9', 'net=net:6', 'pid=pid:5', 'user=user:10', 'uts=uts:8']);
    expect(store.verify(id)).toEqual([]);
    store.close();
  });

  it('reads command lines from the pages of the process, and environments only when asked to', async () => {
    const store = openStore(tempStorePath());
    const plain = await importCriu(store, fixtureDir());
    const withEnv = await importCriu(store, fixtureDir(), { env: true });
    const args = (id: number) => rows(store, 'SELECT pid, cmdline, env FROM tasks WHERE checkpoint_id = ? ORDER BY pid', id);
    const cmd100 = JSON.stringify(ARGS[100]!.args);
    const cmd110 = JSON.stringify(ARGS[110]!.args);
    expect(args(plain.checkpointId)).toEqual([
      { pid: 100, cmdline: cmd100, env: null }, { pid: 101, cmdline: cmd100, env: null }, { pid: 102, cmdline: cmd100, env: null },
      { pid: 110, cmdline: cmd110, env: null },
      // 120 and 130 have no pages dumped where their arguments are; 140 is a zombie.
      { pid: 120, cmdline: null, env: null }, { pid: 130, cmdline: null, env: null }, { pid: 140, cmdline: null, env: null },
    ]);
    expect(args(withEnv.checkpointId).filter((t) => t.env !== null)).toEqual([
      { pid: 100, cmdline: cmd100, env: JSON.stringify(ARGS[100]!.env) }, { pid: 101, cmdline: cmd100, env: JSON.stringify(ARGS[100]!.env) },
      { pid: 102, cmdline: cmd100, env: JSON.stringify(ARGS[100]!.env) }, { pid: 110, cmdline: cmd110, env: JSON.stringify(ARGS[110]!.env) },
    ]);
    expect(JSON.stringify(rows(store, 'SELECT * FROM tasks WHERE checkpoint_id = ?', plain.checkpointId))).not.toContain('s3cret');
    store.close();
  });

  it('stores files once per CRIU file id, with the objects behind them and their sockets', async () => {
    const { store, id } = await imported();
    const files = rows(store, `
      SELECT o.key, f.type, f.path, f.pos, f.flags, f.mode, f.mnt_id, b.kind AS object_kind, b.key AS object, o.refcount
      FROM files f JOIN shared_objects o ON o.id = f.id LEFT JOIN shared_objects b ON b.id = f.object_id
      WHERE f.checkpoint_id = ? ORDER BY f.id`, id);
    const reg = (key: string, type: string, path: string, flags: number, mode: number, refcount: number, pos = 0) =>
      ({ key, type, path, pos, flags, mode, mnt_id: 22, object_kind: 'inode', object: `path:22:${path}`, refcount });
    // pipes, sockets and anonymous inodes: position 0 and the mode the kernel gives them all
    const sock = (key: string, ino: number, flags: number) => ({ key, type: 'socket', path: `socket:[${ino}]`, pos: 0, flags, mode: 0o140777, mnt_id: null, object_kind: 'socket', object: `socket:[${ino}]`, refcount: 1 });
    expect(files).toEqual([
      reg('file:1', 'dir', '/', 0o200000, 0o40755, 0),
      reg('file:2', 'dir', '/srv/app', 0o200000, 0o40755, 0),
      reg('file:3', 'reg', '/usr/bin/server', 0o100000, 0o100755, 0),
      reg('file:4', 'reg', '/usr/bin/worker', 0o100000, 0o100755, 0),
      reg('file:5', 'reg', '/usr/lib/x86_64-linux-gnu/libc.so.6', 0o100000, 0o100644, 0),
      reg('file:6', 'chr', '/dev/null', 0o2, 0o20666, 3),
      reg('file:7', 'dir', '/var/log', 0o200000, 0o40755, 0),
      { key: 'file:10', type: 'pipe', path: 'pipe:[5000]', pos: 0, flags: 0o1, mode: 0o10600, mnt_id: null, object_kind: 'pipe', object: 'pipe:[5000]', refcount: 1 },
      { key: 'file:11', type: 'pipe', path: 'pipe:[5000]', pos: 0, flags: 0o4000, mode: 0o10600, mnt_id: null, object_kind: 'pipe', object: 'pipe:[5000]', refcount: 1 },
      reg('file:12', 'reg', '/var/log/app.log', 0o102001, 0o100640, 3, 1234),
      sock('file:13', 7001, 2), sock('file:14', 7002, 2), sock('file:15', 7003, 2),
      sock('file:16', 8001, 0o4002), sock('file:17', 8002, 2), sock('file:18', 8003, 2),
      { key: 'file:19', type: 'eventfd', path: 'anon_inode:[eventfd]', pos: 0, flags: 0o4002, mode: 0o600, mnt_id: null, object_kind: null, object: null, refcount: 1 },
    ]);
    const sockets = rows(store, `SELECT o.key, s.family, s.sock_type, s.protocol, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino FROM sockets s JOIN shared_objects o ON o.id = s.object_id WHERE s.checkpoint_id = ? ORDER BY o.key`, id);
    expect(sockets).toEqual([
      { key: 'socket:[7001]', family: 'unix', sock_type: 'stream', protocol: null, state: 'ESTABLISHED', local_addr: null, local_port: null, remote_addr: null, remote_port: null, peer_ino: 7002 },
      { key: 'socket:[7002]', family: 'unix', sock_type: 'stream', protocol: null, state: 'ESTABLISHED', local_addr: null, local_port: null, remote_addr: null, remote_port: null, peer_ino: 7001 },
      { key: 'socket:[7003]', family: 'unix', sock_type: 'stream', protocol: null, state: 'LISTEN', local_addr: '/run/app.sock', local_port: null, remote_addr: null, remote_port: null, peer_ino: null },
      { key: 'socket:[8001]', family: 'inet', sock_type: 'stream', protocol: 'tcp', state: 'LISTEN', local_addr: '0.0.0.0', local_port: 8080, remote_addr: '0.0.0.0', remote_port: 0, peer_ino: null },
      { key: 'socket:[8002]', family: 'inet', sock_type: 'stream', protocol: 'tcp', state: 'ESTABLISHED', local_addr: '127.0.0.1', local_port: 45678, remote_addr: '127.0.0.1', remote_port: 8080, peer_ino: null },
      { key: 'socket:[8003]', family: 'inet6', sock_type: 'dgram', protocol: 'udp', state: 'UNCONNECTED', local_addr: 'fe80::1:2', local_port: 9090, remote_addr: '::', remote_port: 0, peer_ino: null },
    ]);
    const pipe = rows(store, `SELECT refcount FROM shared_objects WHERE checkpoint_id = ? AND key = 'pipe:[5000]'`, id);
    expect(pipe).toEqual([{ refcount: 2 }]);
    store.close();
  });

  it('keeps fds per fd table, shared by threads and CLONE_FILES processes', async () => {
    const { store, id } = await imported();
    const fds = rows(store, `
      SELECT t.key AS fdtable, t.refcount AS users, d.fd, d.cloexec, f.key AS file
      FROM fds d JOIN shared_objects t ON t.id = d.fdtable_id JOIN shared_objects f ON f.id = d.file_id
      WHERE d.checkpoint_id = ? ORDER BY t.key, d.fd`, id);
    const fd = (fdtable: string, users: number, n: number, cloexec: number, file: string) => ({ fdtable, users, fd: n, cloexec, file });
    expect(fds).toEqual([
      fd('files:12', 2, 0, 0, 'file:6'), fd('files:12', 2, 3, 0, 'file:11'), fd('files:12', 2, 5, 0, 'file:17'),
      fd('files:2', 3, 0, 0, 'file:6'), fd('files:2', 3, 1, 0, 'file:12'), fd('files:2', 3, 4, 1, 'file:10'), fd('files:2', 3, 5, 0, 'file:12'),
      fd('files:2', 3, 6, 1, 'file:13'), fd('files:2', 3, 8, 0, 'file:15'), fd('files:2', 3, 9, 1, 'file:16'), fd('files:2', 3, 10, 1, 'file:19'),
      fd('files:22', 1, 0, 0, 'file:6'), fd('files:22', 1, 3, 0, 'file:14'), fd('files:22', 1, 4, 0, 'file:18'), fd('files:22', 1, 7, 0, 'file:12'),
    ]);
    store.close();
  });

  it('keeps memory maps, with addresses above 2^63 exact', async () => {
    const { store, id } = await imported();
    const maps = rows(store, `SELECT o.key AS mm, m.start_addr, m.end_addr, m.perms, m.pgoff, m.path FROM maps m JOIN shared_objects o ON o.id = m.mm_id WHERE m.checkpoint_id = ? AND o.key = 'vm:1' ORDER BY m.start_addr`, id);
    expect(maps).toEqual([
      { mm: 'vm:1', start_addr: '0000000000400000', end_addr: '0000000000401000', perms: 'r-xp', pgoff: 0, path: '/usr/bin/server' },
      { mm: 'vm:1', start_addr: '0000000000602000', end_addr: '0000000000623000', perms: 'rw-p', pgoff: 0, path: '[heap]' },
      { mm: 'vm:1', start_addr: '00007f0000000000', end_addr: '00007f0000022000', perms: 'r-xp', pgoff: 4096, path: '/usr/lib/x86_64-linux-gnu/libc.so.6' },
      { mm: 'vm:1', start_addr: '00007ffd00000000', end_addr: '00007ffd00021000', perms: 'rw-p', pgoff: 0, path: '[stack]' },
      { mm: 'vm:1', start_addr: '00007ffd00100000', end_addr: '00007ffd00102000', perms: 'r-xp', pgoff: 0, path: '[vdso]' },
      { mm: 'vm:1', start_addr: 'ffffffffff600000', end_addr: 'ffffffffff601000', perms: '--xp', pgoff: 0, path: '[vsyscall]' },
    ]);
    expect(rows(store, 'SELECT count(*) AS n FROM maps WHERE checkpoint_id = ?', id)).toEqual([{ n: 10 }]);
    store.close();
  });

  it('keeps every file of the directory, each in its role', async () => {
    const { store, id } = await imported();
    const images = rows(store, 'SELECT name, kind, role, size FROM criu_images WHERE checkpoint_id = ? ORDER BY name', id);
    const onDisk = readdirSync(fixtureDir()).sort();
    expect(images.map((i) => i.name)).toEqual(onDisk);
    for (const i of images) expect(i.size).toBe(statSync(join(fixtureDir(), i.name as string)).size);
    const role = Object.fromEntries(images.map((i) => [i.name, `${i.role}:${i.kind ?? ''}`]));
    expect(role).toMatchObject({
      'inventory.img': 'modelled:INVENTORY', 'files.img': 'modelled:FILES', 'core-101.img': 'modelled:CORE', 'fdinfo-12.img': 'modelled:FDINFO',
      'pagemap-100.img': 'stored:PAGEMAP', 'pipes-data.img': 'stored:PIPES_DATA', 'tcp-stream-1f42.img': 'stored:TCP_STREAM', 'stats-dump': 'stored:STATS',
      'pages-1.img': 'raw:', 'dump.log': 'other:',
    });
    store.close();
  });

  it('holds what `crit x DIR fds` shows, fd by fd', async () => {
    // crit x stops at a zombie (it has no ids image), so this tree has none.
    const dir = tempDir();
    await buildFixtureWithoutZombie(dir);
    const store = openStore(tempStorePath());
    const { checkpointId } = await importCriu(store, dir);
    expect(fdsLikeCrit(store, checkpointId)).toBe(await critX(dir, 'fds'));
    store.close();
  });
});

/** The store's fds of each process printed the way `crit x DIR fds` prints them. */
function fdsLikeCrit(store: Store, id: number): string {
  const describe = (f: Record<string, unknown>): string => {
    const n = Number(String(f.key).slice('file:'.length));
    if (f.type === 'pipe') return `pipe[${/\d+/.exec(String(f.path))![0]}]`;
    if (f.family === 'unix') return `unix[${f.ino} (${f.peer_ino ?? 0})${f.local_addr ? ` ${f.local_addr}` : ''}]`;
    if (f.family === 'inet' || f.family === 'inet6') return `INETSK.${n}`;
    if (f.type === 'eventfd') return `EVENTFD.${n}`;
    return String(f.path);
  };
  const fileSql = `SELECT o.key, f.type, f.path, s.family, s.local_addr, s.peer_ino, CAST(substr(b.key, 9, length(b.key) - 9) AS INTEGER) AS ino
    FROM files f JOIN shared_objects o ON o.id = f.id LEFT JOIN sockets s ON s.object_id = f.object_id LEFT JOIN shared_objects b ON b.id = f.object_id`;
  let out = '';
  for (const p of rows(store, 'SELECT pid, fdtable_id, cwd, root FROM tasks WHERE checkpoint_id = ? AND pid = tgid ORDER BY id', id)) {
    out += `${p.pid}\n`;
    for (const d of rows(store, `SELECT d.fd, x.* FROM fds d JOIN (${fileSql}) x ON x.key = (SELECT key FROM shared_objects WHERE id = d.file_id) WHERE d.fdtable_id = ? ORDER BY d.id`, p.fdtable_id)) {
      out += `\t${String(d.fd).padStart(7)}: ${describe(d)}\n`;
    }
    out += `\t${'cwd'.padStart(7)}: ${p.cwd}\n\t${'root'.padStart(7)}: ${p.root}\n`;
  }
  return out;
}

describe.skipIf(skipWithout(CRIT))('exportCriu', () => {
  it('writes back, for an unchanged checkpoint, every image as CRIU wrote it', async () => {
    const { store, id } = await imported();
    const out = join(tempDir(), 'out');
    const r = await exportCriu(store, id, out);
    expect(r.rebuilt).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(readdirSync(fixtureDir()).sort());
    for (const name of readdirSync(fixtureDir())) {
      expect(readFileSync(join(out, name)).equals(readFileSync(join(fixtureDir(), name))), name).toBe(true);
      expect(statSync(join(out, name)).mode & 0o777).toBe(0o600);
      if (name.endsWith('.img') && !name.startsWith('pages-')) expect(await critDecode(join(out, name)), name).toBe(await critDecode(join(fixtureDir(), name)));
    }
    store.close();
  });

  it('carries changes made in the store into the images, and leaves the rest as it was', async () => {
    const { store, id } = await imported();
    store.db.exec(`
      UPDATE files SET path = '/srv/app/moved.log', pos = 99 WHERE id = (SELECT id FROM shared_objects WHERE key = 'file:12' AND checkpoint_id = ${id});
      UPDATE tasks SET comm = 'renamed', uid = 0, sig_blocked = '0000000000000001' WHERE pid = 101;
      UPDATE tasks SET state = 'T', attrs = json_set(attrs, '$.oom_score_adj', -500) WHERE pid = 100;
      UPDATE tasks SET attrs = json_set(attrs, '$.umask', '0027') WHERE pid = 110;
      UPDATE file_eventfds SET counter = 42 WHERE file_id = (SELECT id FROM shared_objects WHERE key = 'file:19' AND checkpoint_id = ${id});
      UPDATE task_rlimits SET soft = 2048 WHERE resource = 'nofile' AND task_id = (SELECT id FROM tasks WHERE pid = 100);
      UPDATE fds SET cloexec = 1 WHERE fd = 0 AND fdtable_id = (SELECT id FROM shared_objects WHERE key = 'files:2');
      DELETE FROM fds WHERE fd = 10 AND fdtable_id = (SELECT id FROM shared_objects WHERE key = 'files:2');
      UPDATE maps SET perms = 'rw-p', end_addr = '0000000000402000' WHERE start_addr = '0000000000400000' AND mm_id = (SELECT id FROM shared_objects WHERE key = 'vm:1');
      UPDATE sockets SET local_port = 9999, local_addr = '10.1.2.3' WHERE object_id = (SELECT id FROM shared_objects WHERE key = 'socket:[8001]');
      UPDATE tasks SET pgid = 555 WHERE pid = 120;
    `);
    const out = join(tempDir(), 'out');
    const r = await exportCriu(store, id, out);
    expect(r.rebuilt.sort()).toEqual(['core-100.img', 'core-101.img', 'fdinfo-2.img', 'files.img', 'fs-110.img', 'mm-100.img', 'pstree.img']);
    const decoded = async (dir: string, name: string) => JSON.parse(await critDecode(join(dir, name))) as { entries: Record<string, any>[] };
    const files = (await decoded(out, 'files.img')).entries;
    expect(files.find((f) => f.id === 12)!.reg).toMatchObject({ name: '/srv/app/moved.log', pos: 99, flags: 0o102001 });
    // Without --pretty crit prints an address as the in_addr word read little-endian.
    const tenOneTwoThree = 0x0302010a;
    expect(files.find((f) => f.id === 16)!.isk).toMatchObject({ src_port: 9999, src_addr: [tenOneTwoThree], dst_port: 0 });
    expect(files.find((f) => f.id === 19)!.efd).toMatchObject({ counter: 42 });
    expect((await decoded(out, 'fs-110.img')).entries[0]).toMatchObject({ umask: 0o27 });
    const core101 = (await decoded(out, 'core-101.img')).entries[0]!;
    expect(core101.thread_core).toMatchObject({ comm: 'renamed', blk_sigset: 1 });
    expect(core101.thread_core.creds).toMatchObject({ uid: 0, gid: 1000, euid: 1000 });
    const core100 = (await decoded(out, 'core-100.img')).entries[0]!;
    expect(core100.tc).toMatchObject({ task_state: 3, oom_score_adj: -500, comm: 'server' });
    expect(core100.tc.rlimits.rlimits[7]).toEqual({ cur: 2048, max: 524288 });
    expect((await decoded(out, 'fdinfo-2.img')).entries.map((e) => [e.fd, e.flags])).toEqual([[0, 1], [1, 0], [4, 1], [5, 0], [6, 1], [8, 0], [9, 1]]);
    expect((await decoded(out, 'mm-100.img')).entries[0]!.vmas[0]).toMatchObject({ start: 0x400000, end: 0x402000, prot: 3, flags: 2 });
    expect((await decoded(out, 'pstree.img')).entries.find((p) => p.pid === 120)).toMatchObject({ pgid: 555, ppid: 100 });

    // Apart from the changed fields, every image decodes as before.
    const without = (img: { entries: Record<string, any>[] }, name: string) => {
      const e = structuredClone(img.entries);
      if (name === 'files.img') {
        Object.assign(e.find((f) => f.id === 12)!.reg, { name: '/srv/app/moved.log', pos: 99 });
        Object.assign(e.find((f) => f.id === 16)!.isk, { src_port: 9999, src_addr: [0x0302010a] });
        Object.assign(e.find((f) => f.id === 19)!.efd, { counter: 42 });
      }
      return e;
    };
    for (const name of ['files.img', 'core-102.img', 'core-110.img', 'ids-100.img', 'mm-110.img', 'inventory.img', 'pagemap-100.img']) {
      const before = await decoded(fixtureDir(), name);
      const after = await decoded(out, name);
      expect(after.entries, name).toEqual(without(before, name));
    }
    store.close();
  });

  it('refuses to write into a directory that is not empty', async () => {
    const { store, id } = await imported();
    const out = tempDir();
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await expect(exportCriu(store, id, out)).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: `${out} exists and is not empty` });
    expect(readdirSync(out)).toEqual(['keep.txt']);
    store.close();
  });

  it('refuses a checkpoint captured from /proc, and leaves no directory behind', async () => {
    const store = openStore(tempStorePath());
    const w = store.beginCheckpoint({ source: 'proc' });
    w.addTask({ pid: 1, tgid: 1, comm: 'init' });
    const { checkpointId } = w.done();
    const out = join(tempDir(), 'out');
    await expect(exportCriu(store, checkpointId, out)).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/^checkpoint \d+ was captured from \/proc, not imported from CRIU: it has no registers, memory pages/),
    });
    expect(() => statSync(out)).toThrow();
    store.close();
  });
});

describe.skipIf(skipWithout(CRIT))('storage of CRIU images', () => {
  it('stores a second import of the same images without new chunks, and frees them with the last checkpoint', async () => {
    const store = openStore(tempStorePath());
    const first = await importCriu(store, fixtureDir());
    const second = await importCriu(store, fixtureDir());
    expect(first.newBytes).toBeGreaterThan(0);
    expect(second.newBytes).toBe(0);
    expect(second.bytes).toBe(first.bytes);
    const chunks = () => store.db.prepare('SELECT count(*) FROM criu_chunks').pluck().get();
    const before = chunks();
    expect(verifyCriuStorage(store)).toEqual([]);
    store.deleteCheckpoint(first.checkpointId);
    expect(chunks()).toBe(before);
    expect(store.verify()).toEqual([]);
    expect(verifyCriuStorage(store)).toEqual([]);
    expect(listCriuImages(store, second.checkpointId).find((i) => i.name === 'pages-1.img')).toEqual({ name: 'pages-1.img', kind: null, role: 'raw', size: 3 * 4096, entries: null });
    // a chunk pointed at the bytes of another chunk of its pack
    const [a, b] = store.db.prepare('SELECT id, pack_id, pack_offset FROM criu_chunks WHERE size = 4096 AND pack_id = (SELECT pack_id FROM criu_chunks WHERE size = 4096 GROUP BY pack_id HAVING count(*) > 1 LIMIT 1) LIMIT 2').all() as { id: number; pack_offset: number }[];
    store.db.prepare('UPDATE criu_chunks SET pack_offset = ? WHERE id = ?').run(b!.pack_offset, a!.id);
    expect(verifyCriuStorage(store)).toEqual([{ check: 'chunk_hash', checkpointId: null, message: expect.stringMatching(new RegExp(`^chunk ${a!.id} no longer holds the bytes of its SHA-256 [0-9a-f]{64}$`)) }]);
    store.db.prepare('UPDATE criu_chunks SET pack_offset = ? WHERE id = ?').run(a!.pack_offset, a!.id);
    expect(verifyCriuStorage(store)).toEqual([]);
    store.deleteCheckpoint(second.checkpointId);
    expect(chunks()).toBe(0);
    expect(store.db.prepare('SELECT count(*) FROM criu_images').pluck().get()).toBe(0);
    store.close();
  });
});
