/**
 * A real CRIU 4.x dump of a python tree holding one of every kind of file and mapping
 * CRIU dumps here (fixtures/criu-files.py): imported, it holds what /proc showed just
 * before the dump, row by row, and what a live capture of the same processes holds;
 * exported, it is the dump byte for byte; restored from the export, the processes run
 * on with their pipe, sockets, timer and memory.
 *
 * What the rows leave out, because CRIU does not record it, is said where it is left out.
 */
import { closeSync, cpSync, existsSync, mkdirSync, writeFileSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureProcesses, openStore, QuerySession, type Store } from '../src/index.js';
import { exportCriu, importCriu } from '../src/formats/criu/index.js';
import { CRIU, skipWithout } from './helpers/criuTools.js';
import { dump, killTree, procFds, procMaps, procTasks, restore, startTree, treePids, type ProcFd, type ProcMap, type ProcTask } from './helpers/criuReal.js';
import { expectReencodes, expectSameFiles } from './helpers/criuReencode.js';
import { expectFds, expectMaps, expectTasks, typeOf } from './helpers/criuTruth.js';
import { FIXTURES, waitFor } from './helpers/processes.js';
import { runCli } from './helpers/cli.js';

type Row = Record<string, unknown>;

interface Made {
  pid: number;
  child: number;
  zombie: number;
  fds: Record<string, number>;
  maps: Record<string, string>;
  udp_port: number;
  pty: string;
  guard_pages: boolean;
}

const PAGE = 0x1000n;
const O_LARGEFILE = 0o100000;
const hex = (n: bigint) => n.toString(16).padStart(16, '0');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether the page at addr is a guard page: the kernel's pagemap marks one with bit 58 (PM_GUARD_REGION). */
function guardPage(pid: number, addr: bigint): boolean {
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    const entry = Buffer.alloc(8);
    readSync(fd, entry, 0, 8, Number((addr / PAGE) * 8n));
    return ((entry.readBigUInt64LE(0) >> 58n) & 1n) === 1n;
  } finally {
    closeSync(fd);
  }
}

/** Asks the tree's control socket to run its pipe, sockets and timer; its answer. */
function check(path: string): Promise<Row> {
  return new Promise((resolve, reject) => {
    let data = '';
    const c = createConnection(path, () => c.write('check\n'));
    c.setEncoding('utf8').on('data', (d: string) => (data += d)).on('end', () => resolve(JSON.parse(data) as Row)).on('error', reject);
    setTimeout(() => reject(new Error(`no answer from ${path}: ${data}`)), 10_000).unref();
  });
}

describe.skipIf(skipWithout(CRIU))('a real CRIU dump of a tree with every kind of file', () => {
  let root = '';
  let store: Store;
  let made: Made;
  let pids: number[] = [];
  let tasks: ProcTask[] = [];
  let fds: ProcFd[] = [];
  const maps = new Map<number, ProcMap[]>();
  let live = 0;
  let criu = 0;
  const rows = (sql: string, ...params: unknown[]) => store.db.prepare(sql).safeIntegers(false).all(...params) as Row[];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ckptdb-criu-real-'));
    const work = join(root, 'work');
    const dir = join(root, 'dump');
    for (const d of [work, dir]) mkdirSync(d);
    const tree = await startTree<Made>(['python3', join(FIXTURES, 'criu-files.py'), work, String(await freePort())], work);
    made = tree.info;
    pids = treePids(tree.pid);
    tasks = procTasks(pids);
    fds = procFds(pids);
    for (const pid of [made.pid, made.child]) maps.set(pid, procMaps(pid));
    live = (await captureProcesses(store = openStore(join(root, 'store.sqlite')), { pids: [made.pid], tree: true, withEnv: true })).checkpointId;
    await dump(made.pid, dir, ['--tcp-established']);
    criu = (await importCriu(store, dir, { env: true })).checkpointId;
  }, 120_000);

  afterAll(() => {
    store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('holds every task as /proc showed it: ids, state, credentials, command line, environment, signals', () => {
    expect(pids).toEqual([made.pid, made.child, made.zombie]);
    expectTasks(store.db, criu, tasks, made.pid);
    // the signals the fixture made pending, caught and ignored, past SIGKILL and SIGSTOP
    const [leader] = rows('SELECT sig_pending, sig_caught, sig_ignored, attrs FROM tasks WHERE checkpoint_id = ? AND pid = ?', criu, made.pid);
    expect(leader!.sig_pending).toBe('0000000800000000'); // SIGRTMIN+2 (36) for the thread
    expect(JSON.parse(String(leader!.attrs)).sig_shared_pending).toBe('0000000000000200'); // SIGUSR1 for the process
    expect(BigInt(`0x${String(leader!.sig_caught)}`) & (1n << 11n)).toBe(1n << 11n); // SIGUSR2
    expect(BigInt(`0x${String(leader!.sig_ignored)}`) & 1n).toBe(1n); // SIGHUP
  });

  it('knows the host and kernel the dump ran on, as the live capture does, and the figures of the dump run', () => {
    const [a, b] = [criu, live].map((id) => store.getCheckpoint(id));
    expect({ host: a!.host, kernel: a!.kernel }).toEqual({ host: hostname(), kernel: release() });
    expect({ host: a!.host, kernel: a!.kernel }).toEqual({ host: b!.host, kernel: b!.kernel });
    const meta = JSON.parse(a!.meta!).criu as Row;
    expect(meta.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta.dump_stats).toMatchObject({ frozen_time: expect.any(Number), pages_written: expect.any(Number) });
  });

  it('holds every fd with its type, path, position, flags, mode and deleted flag', () => {
    const got = expectFds(store.db, criu, fds);
    const byFd = (name: string) => got.find((r) => r.pid === made.pid && r.fd === made.fds[name])!;
    expect(byFd('ghost')).toMatchObject({ deleted: 1, pos: 5 });
    expect(byFd('memfd')).toMatchObject({ type: 'memfd', path: '/memfd:ckptdb-memfd', deleted: 1 });
    expect(byFd('opath_link')).toMatchObject({ type: 'lnk' });
    expect(byFd('pidfd')).toMatchObject({ type: 'anon', path: 'anon_inode:[pidfd]', flags: 2 });
    expect(rows("SELECT path FROM open_fds WHERE checkpoint_id = ? AND deleted = 1 AND type = 'reg' GROUP BY path", criu)).toEqual([{ path: join(root, 'work', 'ghost.txt') }]);
  });

  it('holds every map with its path and deleted flag, and the guard regions in the maps that hold them', () => {
    expectMaps(store.db, criu, maps);
    const guarded = rows('SELECT start_addr, attrs FROM maps WHERE checkpoint_id = ? AND attrs LIKE ?', criu, '%guard%');
    if (!made.guard_pages) return expect(guarded).toEqual([]);
    const g = BigInt(`0x${made.maps.guarded}`);
    const head = BigInt(`0x${made.maps.guarded_head}`);
    expect(guarded.map((r) => [r.start_addr, JSON.parse(String(r.attrs)).guard])).toEqual(
      [[hex(g), [`${hex(g + 4n * PAGE)}-${hex(g + 6n * PAGE)}`]], [hex(head), [`${hex(head)}-${hex(head + 2n * PAGE)}`]]].sort(),
    );
  });

  it('holds the details of each anonymous file as the live capture does, and as fdinfo says', () => {
    const detail = (table: string, cols: string, id: number, order = '') =>
      rows(`SELECT h.pid, h.fd, ${cols} FROM ${table} d JOIN fd_holders h ON h.file_id = d.file_id WHERE d.checkpoint_id = ? ORDER BY h.pid, h.fd${order}`, id);
    const tables: [string, string, string?][] = [
      ['file_eventfds', 'd.counter'],
      ['epoll_targets', 'd.seq, d.tfd, d.events, d.data, d.inode, d.dev, d.pos', ', d.seq'],
      ['inotify_watches', 'd.wd, d.inode, d.dev, d.mask, d.ignored_mask', ', d.wd'],
      ['file_signalfds', 'd.sigmask'],
      // the clock runs on between the live capture and the dump: its ticks and time left move
      ['file_timerfds', 'd.clockid, d.settime_flags, d.interval_ns'],
      ['file_ttys', 'd.kind, d.tty_index, d.role, d.rdev, (SELECT min(p.fd) FROM fd_holders p WHERE p.file_id = d.peer_file_id) AS peer_fd'],
    ];
    for (const [table, cols, order] of tables) expect(detail(table, cols, criu, order), table).toEqual(detail(table, cols, live, order));

    const at = (name: string) => ({ pid: made.pid, fd: made.fds[name] });
    expect(detail('file_eventfds', 'd.counter', criu)).toContainEqual({ ...at('eventfd'), counter: 7 });
    expect(detail('file_signalfds', 'd.sigmask', criu)).toContainEqual({ ...at('signalfd'), sigmask: '0000000000000a00' });
    expect(detail('epoll_targets', 'd.tfd', criu).filter((r) => r.fd === made.fds.epoll).map((r) => r.tfd).sort()).toEqual([made.fds.eventfd, made.fds.pipe_up].sort());
    expect(detail('inotify_watches', 'd.mask', criu).map((r) => r.mask).sort()).toEqual([0x2, 0x300]);
    const timers = detail('file_timerfds', 'd.clockid, d.interval_ns, d.value_ns', criu);
    expect(timers.find((t) => t.fd === made.fds.timerfd)).toMatchObject({ clockid: 1, interval_ns: 50_000_000 });
    const once = timers.find((t) => t.fd === made.fds.timerfd_once)!;
    expect(once).toMatchObject({ clockid: 0, interval_ns: 0 });
    expect(Number(once.value_ns)).toBeGreaterThan(3_500e9);
    expect(Number(once.value_ns)).toBeLessThanOrEqual(3_600e9);
    const index = Number(made.pty.replace('/dev/pts/', ''));
    expect(detail('file_ttys', 'd.kind, d.tty_index, d.role, (SELECT min(p.fd) FROM fd_holders p WHERE p.file_id = d.peer_file_id) AS peer', criu).filter((r) => r.pid === made.pid)).toEqual([
      { ...at('pty_master'), kind: 'pty', tty_index: index, role: 'master', peer: made.fds.pty_slave },
      { ...at('pty_slave'), kind: 'pty', tty_index: index, role: 'slave', peer: made.fds.pty_master },
    ]);
    const extra = (name: string) => fds.find((f) => f.pid === made.pid && f.fd === made.fds[name])!.extra;
    expect(extra('eventfd').find((l) => l.startsWith('eventfd-count'))).toMatch(/\b7$/);
    expect(extra('pty_master')).toContain(`tty-index:\t${index}`);
  });

  it('answers the canned queries on epolls and inotify watches as for the live capture', () => {
    const q = QuerySession.open(join(root, 'store.sqlite'));
    try {
      const run = (name: string, checkpoint: number, drop: string[]) =>
        [...q.canned(name, { checkpoint }).rows].map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !drop.includes(k))));
      // CRIU records no inode of an eventfd, nor of the files an inotify watches: whether a
      // target is still the same file, and the paths a watched inode is open as, are the live capture's only
      expect(run('epoll_watches', criu, ['epoll_file_id', 'same_file'])).toEqual(run('epoll_watches', live, ['epoll_file_id', 'same_file']));
      expect(run('epoll_watches', criu, [])).toHaveLength(2);
      expect(run('inotify_watches', criu, ['inotify_file_id', 'open_as'])).toEqual(run('inotify_watches', live, ['inotify_file_id', 'open_as']));
    } finally {
      q.close();
    }
  });

  it('holds the sockets as the live capture does: family, type, state, addresses and peers', () => {
    const sockets = (id: number) => rows(
      'SELECT o.key, s.family, s.sock_type, s.protocol, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino FROM sockets s JOIN shared_objects o ON o.id = s.object_id WHERE s.checkpoint_id = ? ORDER BY o.key', id);
    expect(sockets(criu)).toEqual(sockets(live));
    expect(sockets(criu).map((s) => [s.family, s.sock_type, s.state]).sort()).toEqual([
      ['inet', 'dgram', 'UNCONNECTED'], ['inet', 'stream', 'ESTABLISHED'], ['inet', 'stream', 'ESTABLISHED'], ['inet', 'stream', 'LISTEN'],
      ['unix', 'dgram', 'ESTABLISHED'], ['unix', 'dgram', 'ESTABLISHED'], ['unix', 'stream', 'ESTABLISHED'], ['unix', 'stream', 'ESTABLISHED'],
      ['unix', 'stream', 'LISTEN'],
    ]);
  });

  it('imports the dump directory with a README, a folder of decoded images and its log: the folder is skipped and named', async () => {
    const dir = join(root, 'annotated');
    cpSync(join(root, 'dump'), dir, { recursive: true });
    writeFileSync(join(dir, 'README.txt'), 'a dump of criu-files.py\n');
    mkdirSync(join(dir, 'json'));
    writeFileSync(join(dir, 'json', 'pstree.json'), '{"magic": "PSTREE", "entries": []}\n');
    const r = await importCriu(store, dir);
    expect(r.skipped).toEqual([{ name: 'json/', why: 'a folder, not a file of the checkpoint' }]);
    const kept = store.db.prepare('SELECT name, role FROM criu_images WHERE checkpoint_id = ? AND role = ? ORDER BY name').all(r.checkpointId, 'other');
    expect(kept).toEqual([{ name: 'README.txt', role: 'other' }, { name: 'dump.log', role: 'other' }]);
    const cli = await runCli(['import', dir], { db: join(root, 'cli.sqlite') });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toContain('skipped an entry: json/: a folder, not a file of the checkpoint');
    // a broken image is still refused: the one line names it and where it stops
    writeFileSync(join(dir, 'core-1.img'), Buffer.from([0x19, 0x43, 0x56, 0x54, 0x47, 0x38, 0x05, 0x55, 9, 0, 0, 0]));
    const bad = await runCli(['import', dir], { db: join(root, 'cli.sqlite') });
    expect({ code: bad.code, stderr: bad.stderr.trim() }).toEqual({ code: 2, stderr: `ckptdb: ${join(dir, 'core-1.img')}: truncated: entry of 9 bytes, 0 left at byte 8` });
  });

  it('re-encodes every entry of every image to the bytes CRIU wrote, unknown fields kept in their place', () => {
    expectReencodes(join(root, 'dump'));
  });

  it('exports the dump byte for byte, and restores from the export: same pids, fds and positions, and the pipe, sockets, timer and memory work', async () => {
    const out = join(root, 'restore');
    await exportCriu(store, criu, out);
    expectSameFiles(out, join(root, 'dump'));

    await killTree(pids);
    // the kernel frees a pty's number a moment after its last close; restore asks for that number
    await waitFor(() => !existsSync(made.pty), 5000, `${made.pty} to be freed`);
    await restore(out, pids, ['--tcp-established']);
    expect(procTasks([made.pid, made.child]).map((t) => t.pid)).toEqual([made.pid, made.child]);
    expect(procTasks([made.child])[0]!.ppid).toBe(made.pid);
    expect(readFileSync(`/proc/${made.zombie}/stat`, 'latin1')).toMatch(/\) Z /);
    const after = procFds([made.pid, made.child]);
    const before = fds.filter((f) => f.pid !== made.zombie);
    // pipes and sockets are new kernel objects with new inode numbers; restore opens a pty's slave O_LARGEFILE
    const shape = (f: ProcFd) => ({
      pid: f.pid, fd: f.fd, type: typeOf(f), path: /^(pipe|socket):/.test(f.path) ? f.path.slice(0, 6) : f.path, pos: f.pos,
      flags: f.flags & ~O_LARGEFILE, cloexec: f.cloexec, deleted: f.deleted,
    });
    expect(after.map(shape)).toEqual(before.map(shape));
    // the restored sockets, as a live capture finds them, in the states and at the addresses of the dump
    const restored = (await captureProcesses(store, { pids: [made.pid], tree: true })).checkpointId;
    const states = (id: number) => rows(
      'SELECT family, sock_type, protocol, state, local_addr, local_port, remote_addr, remote_port FROM sockets WHERE checkpoint_id = ? ORDER BY 1, 2, 3, 4, 5, 6, 7, 8', id);
    expect(states(restored)).toEqual(states(criu));
    const answer = await check(join(root, 'work', 'control.sock'));
    expect(answer).toMatchObject({
      pipe: 'THROUGH THE PIPE', queued: 'queued on a stream\n', stream: 'after restore\n', datagrams: ['first datagram', 'second datagram'],
      tcp: 'over tcp\n', eventfd: 7, memfd: 'in a memfd', shared_anon: '5a5a5a5a', guarded: '33333333',
    });
    expect(Number(answer.timer_ticks)).toBeGreaterThan(0);
    if (made.guard_pages) {
      const g = BigInt(`0x${made.maps.guarded}`);
      const head = BigInt(`0x${made.maps.guarded_head}`);
      const pages = [0n, 3n, 4n, 5n, 6n].map((i) => guardPage(made.pid, g + i * PAGE));
      expect(pages).toEqual([false, false, true, true, false]);
      expect([0n, 1n, 2n].map((i) => guardPage(made.pid, head + i * PAGE))).toEqual([true, true, false]);
    }
  });
});
