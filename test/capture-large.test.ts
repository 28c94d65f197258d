/**
 * A capture large enough to be read by the worker thread (captureSource.ts): 81
 * processes (test/fixtures/many-fds.py) of 100 fds each. It must store exactly what the
 * kernel holds, as the small captures of capture.test.ts do: every fd, and each on the
 * open file the kernel has, shared over fork and dup, not shared between opens of one
 * path. Its memory ceiling at scale is measured by `npm run bench -- capture scale`.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { WORKER_FROM } from '../src/capture/proc/captureSource.js';
import { runCli } from './helpers/cli.js';
import { startFixture } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

interface ManyFds {
  parent: number;
  shared: number;
  pipe_r: number;
  pipe_w: number;
  children: { pid: number; fds: Record<'own' | 'again' | 'null' | 'dup' | 'pair', number[]> }[];
}

interface Row {
  pid: number;
  fd: number;
  file_id: number;
  refcount: number;
  object_id: number | null;
  type: string;
}

const CHILDREN = 80;

describe('capture of many processes holding many fds', () => {
  it('is read by the worker thread and stores every fd on exactly the open file the kernel has', async () => {
    expect(CHILDREN + 1).toBeGreaterThanOrEqual(WORKER_FROM);
    const { info } = await startFixture<ManyFds>('many-fds.py', [tempDir(), String(CHILDREN), '100']);
    const db = tempStorePath();
    const r = await runCli(['capture', String(info.parent), '--tree'], { db });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    const store = openStore(db, { create: false });
    const id = Number(r.stdout);
    const rows = store.db
      .prepare(
        `SELECT t.pid, d.fd, d.file_id, o.refcount, f.object_id, f.type
         FROM tasks t JOIN fds d ON d.checkpoint_id = t.checkpoint_id AND d.fdtable_id = t.fdtable_id
         JOIN files f ON f.id = d.file_id JOIN shared_objects o ON o.id = f.id
         WHERE t.checkpoint_id = ? AND t.pid = t.tgid ORDER BY t.pid, d.fd`,
      )
      .all(id) as Row[];
    const byPid = new Map<number, Map<number, Row>>();
    for (const row of rows) {
      if (!byPid.has(row.pid)) byPid.set(row.pid, new Map());
      byPid.get(row.pid)!.set(row.fd, row);
    }
    const at = (pid: number, fd: number) => {
      const row = byPid.get(pid)?.get(fd);
      if (!row) throw new Error(`fd ${fd} of ${pid} is not stored`);
      return row;
    };

    // every fd of every process, as the kernel lists them
    const pids = [info.parent, ...info.children.map((c) => c.pid)];
    expect([...byPid.keys()].sort((a, b) => a - b)).toEqual([...pids].sort((a, b) => a - b));
    for (const pid of pids) {
      const listed = readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
      expect([...byPid.get(pid)!.keys()], `fds of ${pid}`).toEqual(listed);
    }

    // inherited over fork, and dup'ed: one open file each, held by every process
    const shared = at(info.parent, info.shared);
    const dups = info.children.reduce((n, c) => n + c.fds.dup.length, 0);
    expect(shared.refcount).toBe(pids.length + dups);
    for (const end of [info.pipe_r, info.pipe_w]) expect(at(info.parent, end).refcount).toBe(pids.length);
    for (const c of info.children) {
      expect(at(c.pid, info.shared).file_id).toBe(shared.file_id);
      for (const fd of c.fds.dup) expect(at(c.pid, fd).file_id).toBe(shared.file_id);
      for (const end of [info.pipe_r, info.pipe_w]) expect(at(c.pid, end).file_id).toBe(at(info.parent, end).file_id);
    }

    // opened again, /dev/null, files of its own, socketpairs: an open file each
    const alone = info.children.flatMap((c) => [...c.fds.again, ...c.fds.null, ...c.fds.own, ...c.fds.pair].map((fd) => at(c.pid, fd)));
    expect(new Set(alone.map((row) => row.file_id)).size).toBe(alone.length);
    for (const row of alone) expect(row.refcount).toBe(1);
    // the reopened ones stand on the inode of the inherited one
    for (const c of info.children) for (const fd of c.fds.again) expect(at(c.pid, fd).object_id).toBe(shared.object_id);
    // each end of a socketpair knows its peer
    for (const c of info.children) {
      for (let i = 0; i < c.fds.pair.length; i += 2) {
        const [a, b] = [at(c.pid, c.fds.pair[i]!), at(c.pid, c.fds.pair[i + 1]!)];
        const peer = (row: Row) => store.db.prepare('SELECT peer_ino FROM sockets WHERE checkpoint_id = ? AND object_id = ?').pluck().get(id, row.object_id);
        const ino = (row: Row) => Number(/\d+/.exec(store.db.prepare('SELECT key FROM shared_objects WHERE id = ?').pluck().get(row.object_id) as string)![0]);
        expect(peer(a)).toBe(ino(b));
        expect(peer(b)).toBe(ino(a));
      }
    }
    expect(store.verify(id)).toEqual([]);
    store.close();
  });
});
