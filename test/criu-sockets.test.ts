/**
 * Sockets and FIFOs told the same way by both sources. test/fixtures/unix-sockets.py is
 * captured live; then the same processes are written as CRIU would dump them, by
 * `crit encode`, from what the kernel says of them (the fixture's report, `ss -x` for
 * the states, /proc/PID/fdinfo for the flags and mount), and imported. Every socket's
 * row, the FIFO's pipe and the files on it, and the canned pipes and sockets queries
 * must come out the same from both.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportCriu, importCriu } from '../src/formats/criu/index.js';
import { openStore, QuerySession, type Store } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { critDecode, FIXTURE_IMAGES, fdi, fown, ids, leaderCore, skOpts, writeImages, type Image } from './helpers/criuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { expectedUnixSockets, ssUnixSockets, startUnixSockets, type SsUnixSocket, type UnixSocketsTree } from './helpers/unixSockets.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const O_CLOEXEC = 0o2000000;
/** include/net/tcp_states.h */
const SK_STATES: Record<string, number> = { ESTABLISHED: 1, UNCONNECTED: 7, LISTEN: 10 };
const SOCK_TYPES: Record<string, number> = { stream: 1, dgram: 2, seqpacket: 5 };

/** bytes as crit's JSON writes a unix socket name: quoted-printable. */
function quotedPrintable(bytes: Buffer): string {
  return [...bytes].map((b) => (b > 32 && b < 127 && b !== 61 ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** flags and close-on-exec of a live fd, as CRIU reads them from fdinfo. */
function fdFlags(pid: number, fd: number): { flags: number; cloexec: boolean } {
  const flags = parseInt(/^flags:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]!, 8);
  return { flags: flags & ~O_CLOEXEC, cloexec: (flags & O_CLOEXEC) !== 0 };
}

/**
 * The CRIU images of P and C: their unix sockets (but C's pending connection, which
 * CRIU would give the listener as peer: an in-flight connection) and the three opens of
 * the FIFO, each a regular-file entry with the path and a FIFO entry with the inode.
 */
function criuImagesOf(t: UnixSocketsTree, ss: Map<number, SsUnixSocket>): { images: Record<string, Image>; inodes: number[] } {
  const files: Record<string, unknown>[] = [];
  const fdinfo: Record<number, Record<string, unknown>[]> = { [t.p]: [], [t.c]: [] };
  let nextId = 1;
  const open = (pid: number, fd: number, type: string, entry: (id: number, flags: number) => Record<string, unknown>) => {
    const id = nextId++;
    const { flags, cloexec } = fdFlags(pid, fd);
    files.push({ type, id, ...entry(id, flags) });
    fdinfo[pid]!.push(fdi(fd, id, type, cloexec ? 1 : 0));
  };
  const named = (text: string | null) => (text === null ? Buffer.alloc(0) : Buffer.from(`${text}\0`));
  const inodes: number[] = [];
  for (const [ino, s] of expectedUnixSockets(t)) {
    if (s.pid === t.c && s.name === 'pending') continue;
    inodes.push(ino);
    // the kernel's sun_path: a path with its NUL, an abstract name as bound
    const name = s.name === 'server' ? Buffer.from(t.abstract) : named(s.local_addr);
    open(s.pid, s.fd, 'UNIXSK', (id, flags) => ({
      usk: {
        id, ino, type: SOCK_TYPES[s.sock_type], state: SK_STATES[ss.get(ino)!.state], flags, uflags: 0, backlog: 0,
        peer: s.peer_ino ?? 0, fown, opts: skOpts, name: quotedPrintable(name),
      },
    }));
  }
  const mode = statSync(t.fifo_path).mode;
  const fifo = (pid: number, fd: number, path: string) => {
    const regf = nextId++;
    const { flags } = fdFlags(pid, fd);
    files.push({ type: 'REG', id: regf, reg: { id: regf, flags, pos: 0, fown, name: path, mnt_id: t.fifo.mnt_id, size: 0, mode } });
    open(pid, fd, 'FIFO', (id) => ({ fifo: { id, pipe_id: t.fifo.ino, regf_id: regf } }));
  };
  fifo(t.p, t.procs.p.fds.fifo_w!, t.fifo_path);
  fifo(t.p, t.procs.p.fds.fifo_r!, t.link_path);
  fifo(t.c, t.procs.c.fds.fifo_r!, t.fifo_path);
  const images: Record<string, Image> = {
    'inventory.img': FIXTURE_IMAGES['inventory.img']!,
    'pstree.img': { magic: 'PSTREE', entries: [{ pid: t.p, ppid: 0, pgid: t.p, sid: t.p, threads: [t.p] }, { pid: t.c, ppid: t.p, pgid: t.p, sid: t.p, threads: [t.c] }] },
    [`core-${t.p}.img`]: { magic: 'CORE', entries: [leaderCore('python3', 'Alive', 0)] },
    [`core-${t.c}.img`]: { magic: 'CORE', entries: [leaderCore('python3', 'Alive', 0)] },
    [`ids-${t.p}.img`]: { magic: 'IDS', entries: [ids(1, 2, 3, 4)] },
    [`ids-${t.c}.img`]: { magic: 'IDS', entries: [ids(11, 12, 13, 14)] },
    'files.img': { magic: 'FILES', entries: files },
    'fdinfo-2.img': { magic: 'FDINFO', entries: fdinfo[t.p]! },
    'fdinfo-12.img': { magic: 'FDINFO', entries: fdinfo[t.c]! },
    // the mount the FIFO was opened through, on the device the live capture stat()s
    'mountpoints-9.img': {
      magic: 'MNTS',
      entries: [{ fstype: 0, mnt_id: t.fifo.mnt_id, root_dev: t.fifo.dev, parent_mnt_id: 1, flags: 0, root: '/', mountpoint: '/', source: 'none', options: '' }],
    },
  };
  return { images, inodes };
}

function socketsByInode(store: Store, id: number, inodes: number[]): Record<string, unknown>[] {
  return inodes.map((ino) =>
    store.db
      .prepare(`SELECT s.family, s.sock_type, s.protocol, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino, s.attrs
                FROM sockets s JOIN shared_objects o ON o.id = s.object_id WHERE s.checkpoint_id = ? AND o.key = ?`)
      .get(id, `socket:[${ino}]`) as Record<string, unknown>,
  );
}

function fifoOf(store: Store, id: number) {
  const pipes = store.db.prepare(`SELECT id, key, refcount FROM shared_objects WHERE checkpoint_id = ? AND kind = 'pipe'`).all(id) as { id: number; key: string; refcount: number }[];
  const files = store.db
    .prepare(`SELECT h.pid, h.fd, f.type, f.path, f.pos, f.flags, f.mode, f.mnt_id, f.dev, f.inode FROM files f JOIN fd_holders h ON h.file_id = f.id
              WHERE f.object_id = ? ORDER BY h.pid, h.fd`)
    .all(pipes[0]?.id);
  return { pipes: pipes.map(({ key, refcount }) => ({ key, refcount })), files };
}

describe.skipIf(skipWithout(CRIT))('sockets and FIFOs from a live capture and from a CRIU import of the same processes', () => {
  it('have the same rows, the same pipe and the same answers to the canned queries', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: false });
    const db = tempStorePath();
    const captured = await runCli(['capture', String(tree.p), '--tree'], { db });
    expect(captured.code, captured.stderr).toBe(0);
    const live = Number(captured.stdout);
    const { images, inodes } = criuImagesOf(tree, await ssUnixSockets());
    const dir = tempDir();
    await writeImages(dir, images);
    const store = openStore(db, { create: false });
    const criu = (await importCriu(store, dir)).checkpointId;

    expect(inodes).toHaveLength(10);
    expect(socketsByInode(store, criu, inodes)).toEqual(socketsByInode(store, live, inodes));
    expect(socketsByInode(store, live, inodes).map((s) => s.state)).toEqual(inodes.map((ino) => expectedUnixSockets(tree).get(ino)!.state ?? expect.any(String)));

    const fifo = fifoOf(store, live);
    expect(fifo.pipes).toEqual([{ key: `fifo:${tree.fifo.dev}:${tree.fifo.ino}`, refcount: 3 }]);
    expect(fifoOf(store, criu)).toEqual(fifo);
    store.close();

    const session = QuerySession.open(db);
    try {
      const pipes = (checkpoint: number) => [...session.canned('pipes', { checkpoint }).rows].map(({ pipe_id: _, ...rest }) => rest);
      expect(pipes(criu)).toEqual(pipes(live));
      expect(pipes(live)).toHaveLength(1);
      const keys = new Set(inodes.map((ino) => `socket:[${ino}]`));
      const sockets = (checkpoint: number) =>
        [...session.canned('sockets', { checkpoint, limit: -1 }).rows].filter((r) => keys.has(r.socket as string)).sort((a, b) => String(a.socket).localeCompare(String(b.socket)));
      expect(sockets(criu)).toEqual(sockets(live));
      // listener, accepted, server (connected to, on this kernel), both pairs, client, dgram
      expect(sockets(live).length).toBeGreaterThanOrEqual(8);
    } finally {
      session.close();
    }
  });

  it('export writes the FIFO and the unix sockets back as CRIU wrote them, and a changed name with its NUL', async () => {
    const tree = await startUnixSockets(tempDir(), { netns: false });
    const dir = tempDir();
    await writeImages(dir, criuImagesOf(tree, await ssUnixSockets()).images);
    const store = openStore(tempStorePath());
    const id = (await importCriu(store, dir)).checkpointId;
    const same = join(tempDir(), 'out');
    await exportCriu(store, id, same);
    for (const name of readdirSync(dir)) expect(readFileSync(join(same, name)), name).toEqual(readFileSync(join(dir, name)));

    store.db.prepare(`UPDATE sockets SET local_addr = '/run/moved.sock' WHERE object_id = (SELECT id FROM shared_objects WHERE checkpoint_id = ? AND key = ?)`)
      .run(id, `socket:[${tree.procs.p.inodes.listener}]`);
    const changed = join(tempDir(), 'out');
    await exportCriu(store, id, changed);
    store.close();
    const files = JSON.parse(await critDecode(join(changed, 'files.img'))) as { entries: { usk?: { ino: number; name: string } }[] };
    const names = new Map(files.entries.filter((e) => e.usk).map((e) => [e.usk!.ino, e.usk!.name]));
    expect(names.get(tree.procs.p.inodes.listener!)).toBe('/run/moved.sock=00');
    expect(names.get(tree.procs.p.inodes.accepted!)).toBe(`${tree.server_path}=00`);
  });
});
