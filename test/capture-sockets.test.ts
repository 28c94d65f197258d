/**
 * Unix sockets and FIFOs in a live capture of test/fixtures/unix-sockets.py: each unix
 * socket's peer, state, type and name as the kernel's sock_diag tells them (and `ss -x`
 * confirms), in the capture's own network namespace and in another one; every open of
 * a FIFO on the one pipe of its inode; and, where the capture may not enter a network
 * namespace, what /proc/net/unix shows, with the peers marked unknown.
 */
import { describe, expect, it } from 'vitest';
import { openStore, QuerySession, type Store } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { expectedUnixSockets, ssUnixSockets, startUnixSockets, type UnixSocketsTree } from './helpers/unixSockets.js';

const isRoot = process.getuid?.() === 0;

interface SocketRow {
  ino: number;
  family: string;
  sock_type: string | null;
  protocol: string | null;
  state: string | null;
  local_addr: string | null;
  local_port: number | null;
  peer_ino: number | null;
  attrs: string | null;
}

/** The sockets of a checkpoint by inode, with the process and fd holding each. */
function socketRows(store: Store, id: number): Map<number, SocketRow & { pid: number; fd: number }> {
  const rows = store.db
    .prepare(
      `SELECT CAST(substr(o.key, 9, length(o.key) - 9) AS INTEGER) AS ino, s.family, s.sock_type, s.protocol, s.state,
              s.local_addr, s.local_port, s.peer_ino, s.attrs, h.pid, h.fd
       FROM sockets s JOIN shared_objects o ON o.id = s.object_id
       JOIN files f ON f.object_id = s.object_id JOIN fd_holders h ON h.file_id = f.id
       WHERE s.checkpoint_id = ?`,
    )
    .all(id) as (SocketRow & { pid: number; fd: number })[];
  return new Map(rows.map((r) => [r.ino, r]));
}

async function capture(tree: UnixSocketsTree, command?: string[]) {
  const db = tempStorePath();
  const r = await runCli(['capture', String(tree.p), '--tree'], { db, ...(command ? { command } : {}) });
  expect(r.code, r.stderr).toBe(0);
  const store = openStore(db, { create: false });
  return { db, store, id: Number(r.stdout), stderr: r.stderr };
}

describe('unix sockets and FIFOs in a live capture', () => {
  it('records each unix socket as sock_diag tells it: peer, state, type and name, in every network namespace', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: isRoot });
    const { store, id, stderr } = await capture(tree);
    expect(stderr).not.toMatch(/warning/);
    const rows = socketRows(store, id);
    const ss = new Map([...(await ssUnixSockets()), ...(tree.n ? await ssUnixSockets(tree.n) : [])]);
    const expected = expectedUnixSockets(tree);
    expect(expected.size).toBe(isRoot ? 13 : 11);
    for (const [ino, e] of expected) {
      const state = e.state ?? ss.get(ino)!.state;
      expect({ ino, ...rows.get(ino) }, e.name).toEqual({
        ino, pid: e.pid, fd: e.fd, family: 'unix', sock_type: e.sock_type, protocol: null, state, local_addr: e.local_addr, local_port: null, peer_ino: e.peer_ino, attrs: null,
      });
    }
    // the two ends of each pair, and a client and the socket its server accepted, name each other
    const { p, c } = tree.procs;
    expect([rows.get(p.inodes.pair_a!)!.peer_ino, rows.get(p.inodes.pair_b!)!.peer_ino]).toEqual([p.inodes.pair_b, p.inodes.pair_a]);
    expect([rows.get(c.inodes.client!)!.peer_ino, rows.get(p.inodes.accepted!)!.peer_ino]).toEqual([p.inodes.accepted, c.inodes.client]);
    if (tree.n) {
      // the other namespace's TCP listener, from that namespace's /proc/net/tcp
      const n = tree.procs.n!;
      expect(rows.get(n.inodes.listen!)).toMatchObject({ family: 'inet', sock_type: 'stream', protocol: 'tcp', state: 'LISTEN', local_addr: '0.0.0.0', local_port: n.port });
    }
    const meta = JSON.parse(store.getCheckpoint(id).meta!);
    expect(meta.sockets).toEqual({ unix: [tree.netns, ...(tree.n ? [tree.procs.n!.netns] : [])].map((netns) => ({ netns, via: 'sock_diag' })) });
    expect(meta.warnings.unixPeersUnknown).toBe(0);
    store.close();
  });

  it('agrees with ss -x on every unix socket the tree holds', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: isRoot });
    const { store, id } = await capture(tree);
    const ss = new Map([...(await ssUnixSockets()), ...(tree.n ? await ssUnixSockets(tree.n) : [])]);
    const unix = [...socketRows(store, id).values()].filter((r) => r.family === 'unix');
    // fd 0-2 are the test's: what the fixture made is every other unix socket
    expect(unix.filter((r) => r.fd > 2).length).toBe(expectedUnixSockets(tree).size);
    for (const r of unix) {
      expect({ ino: r.ino, sock_type: r.sock_type, state: r.state, local_addr: r.local_addr, peer_ino: r.peer_ino }).toEqual({ ino: r.ino, ...ss.get(r.ino) });
    }
    store.close();
  });

  it('stores every open of a FIFO on the one pipe of its inode, whichever path and process opened it', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: false });
    const { db, store, id } = await capture(tree);
    const key = `fifo:${tree.fifo.dev}:${tree.fifo.ino}`;
    const pipe = store.db.prepare(`SELECT id, kind, refcount FROM shared_objects WHERE checkpoint_id = ? AND key = ?`).get(id, key) as { id: number; kind: string; refcount: number };
    expect(pipe).toMatchObject({ kind: 'pipe', refcount: 3 });
    const files = store.db
      .prepare(`SELECT h.pid, h.fd, f.type, f.path, f.flags & 3 AS access, f.dev, f.inode, f.mnt_id FROM files f JOIN fd_holders h ON h.file_id = f.id WHERE f.object_id = ? ORDER BY h.pid, h.fd`)
      .all(pipe.id);
    const { p, c } = tree.procs;
    const file = (pid: number, fd: number, path: string, access: number) => ({ pid, fd, type: 'fifo', path, access, dev: tree.fifo.dev, inode: tree.fifo.ino, mnt_id: tree.fifo.mnt_id });
    expect(files).toEqual([
      file(tree.p, p.fds.fifo_w!, tree.fifo_path, 1), file(tree.p, p.fds.fifo_r!, tree.link_path, 0), file(tree.c, c.fds.fifo_r!, tree.fifo_path, 0),
    ].sort((a, b) => a.pid - b.pid || a.fd - b.fd));
    // nothing of the FIFO is left as an inode object
    expect(store.db.prepare(`SELECT count(*) FROM shared_objects WHERE checkpoint_id = ? AND kind = 'inode' AND key LIKE ?`).pluck().get(id, `%:${tree.fifo.ino}`)).toBe(0);
    store.close();
    const session = QuerySession.open(db);
    try {
      const readers = [`${tree.p}:${p.fds.fifo_r}`, `${tree.c}:${c.fds.fifo_r}`].sort();
      expect([...session.canned('pipes').rows]).toEqual([{ pipe_id: pipe.id, pipe: tree.fifo_path, read_end: readers.join(' '), write_end: `${tree.p}:${p.fds.fifo_w}` }]);
    } finally {
      session.close();
    }
  });

  it.skipIf(!isRoot)('reads /proc/net/unix in a namespace it may not enter, marks those peers unknown and says so', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: true });
    // root without CAP_SYS_ADMIN may read every process but not setns() into its network namespace
    const { db, store, id, stderr } = await capture(tree, ['setpriv', '--bounding-set', '-sys_admin', '--inh-caps', '-sys_admin', process.execPath, CLI]);
    expect(stderr).toMatch(/^warning: the peers of 2 unix sockets are unknown: sock_diag could not be asked, \/proc\/net\/unix was read instead$/m);
    const rows = socketRows(store, id);
    const expected = expectedUnixSockets(tree);
    const n = tree.procs.n!;
    for (const name of ['pair_a', 'pair_b']) {
      const ino = n.inodes[name]!;
      expect(rows.get(ino)).toMatchObject({ family: 'unix', sock_type: 'stream', state: 'ESTABLISHED', local_addr: null, peer_ino: null, attrs: '{"peer":"unknown"}' });
    }
    // the capture's own namespace is still asked through sock_diag
    const { p } = tree.procs;
    expect(rows.get(p.inodes.pair_a!)).toMatchObject({ peer_ino: p.inodes.pair_b, attrs: null });
    expect(rows.get(p.inodes.listener!)).toMatchObject({ state: 'LISTEN', local_addr: tree.server_path });
    expect(expected.get(p.inodes.accepted!)!.peer_ino).toBe(rows.get(p.inodes.accepted!)!.peer_ino);
    const meta = JSON.parse(store.getCheckpoint(id).meta!);
    expect(meta.sockets.unix).toEqual([
      { netns: tree.netns, via: 'sock_diag' },
      { netns: n.netns, via: '/proc/net/unix', reason: 'setns: EPERM' },
    ]);
    store.close();
    const show = await runCli(['show', String(id)], { db });
    const lines = show.stdout.split('\n').map((l) => l.replace(/ +/g, ' ').trim());
    expect(lines).toContain('unix sockets sock_diag in 1 network namespace: peers recorded');
    expect(lines).toContain(`unix sockets /proc/net/unix in ${n.netns} (setns: EPERM): peers unknown`);
  });
});
