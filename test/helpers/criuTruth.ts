/**
 * A CRIU import held against what /proc showed of the same processes just before the
 * dump (criuReal.ts reads it): task by task, fd by fd, map by map. What CRIU does not
 * record is left out where it is, and says so.
 */
import type Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { ProcFd, ProcMap, ProcTask } from './criuReal.js';

type Row = Record<string, unknown>;

function rows(db: Database.Database, sql: string, ...params: unknown[]): Row[] {
  return db.prepare(sql).safeIntegers(false).all(...params) as Row[];
}

/** The type a live capture and a CRIU import give a file, from what /proc shows of it. */
export function typeOf(f: ProcFd): string {
  const anon = /^anon_inode:\[?(\w+)\]?$/.exec(f.path)?.[1];
  if (anon) return ({ eventfd: 'eventfd', eventpoll: 'epoll', timerfd: 'timerfd', signalfd: 'signalfd', inotify: 'inotify' } as Record<string, string>)[anon] ?? 'anon';
  if (f.path.startsWith('socket:')) return 'socket';
  if (f.path.startsWith('pipe:')) return 'pipe';
  const type = (f.mode ?? 0) & 0o170000;
  if (type === 0o100000) return f.path.startsWith('/memfd:') ? 'memfd' : 'reg';
  return ({ 0o020000: 'chr', 0o040000: 'dir', 0o120000: 'lnk', 0o010000: 'fifo' } as Record<number, string>)[type] ?? 'unknown';
}

/** Every task, each field /proc shows that CRIU records. root: the dumped tree's root. */
export function expectTasks(db: Database.Database, checkpoint: number, truth: ProcTask[], root: number): void {
  const got = new Map(rows(db, 'SELECT * FROM tasks WHERE checkpoint_id = ?', checkpoint).map((r) => [r.pid as number, r]));
  expect([...got.keys()].sort()).toEqual(truth.map((t) => t.pid).sort());
  for (const t of truth) {
    const r = got.get(t.pid)!;
    const attrs = JSON.parse(String(r.attrs)) as Row;
    const zombie = t.state === 'Z';
    const what = `task ${t.pid}`;
    expect({ pid: r.pid, tgid: r.tgid, pgid: r.pgid, sid: r.sid, comm: r.comm }, what).toEqual({ pid: t.pid, tgid: t.tgid, pgid: t.pgid, sid: t.sid, comm: t.comm });
    // CRIU does not record the root's parent, which is outside the dump
    expect(r.ppid, what).toBe(t.pid === root ? null : t.ppid);
    // CRIU records whether a task was alive, stopped or a zombie, not whether it ran or slept
    expect(r.state, what).toBe(zombie ? 'Z' : t.state === 'T' ? 'T' : 'alive');
    expect({ pending: r.sig_pending, blocked: r.sig_blocked, shared: attrs.sig_shared_pending }, what).toEqual({ pending: t.sig.pending, blocked: t.sig.blocked, shared: t.sig.shared });
    // CRIU records no start time
    expect(r.start_time, what).toBeNull();
    // of a zombie CRIU keeps its pid, state, exit status, comm and blocked signals only
    if (zombie) {
      expect(attrs.exit_code, what).toBe(t.exitCode);
      continue;
    }
    expect({ ignored: r.sig_ignored, caught: r.sig_caught, umask: attrs.umask }, what).toEqual({ ignored: t.sig.ignored, caught: t.sig.caught, umask: t.umask });
    expect([r.uid, r.euid, r.suid, r.fsuid, r.gid, r.egid, r.sgid, r.fsgid], what).toEqual([...t.uid, ...t.gid]);
    expect({ exe: r.exe, cwd: r.cwd, root: r.root }, what).toEqual({ exe: t.exe, cwd: t.cwd, root: t.root });
    expect(JSON.parse(String(r.cmdline)), what).toEqual(t.cmdline);
    expect(JSON.parse(String(r.env)), what).toEqual(t.env);
  }
}

/** Every fd: its type, path, position, flags, mode, close-on-exec and deleted flags. */
export function expectFds(db: Database.Database, checkpoint: number, fds: ProcFd[]): Row[] {
  const truth = [...fds].sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  const got = rows(db, 'SELECT pid, fd, cloexec, type, path, pos, flags, mode, deleted, dev, inode FROM open_fds WHERE checkpoint_id = ? ORDER BY pid, fd', checkpoint);
  expect(got.map((r) => [r.pid, r.fd])).toEqual(truth.map((f) => [f.pid, f.fd]));
  got.forEach((r, i) => {
    const f = truth[i]!;
    const what = `fd ${f.fd} of ${f.pid} (${f.path})`;
    const type = typeOf(f);
    const want: Row = { cloexec: f.cloexec ? 1 : 0, type, path: f.path, pos: f.pos, flags: f.flags, mode: f.mode, deleted: f.deleted ? 1 : 0 };
    // a pidfd's mode is the kernel's (pidfs), which CRIU does not record
    if (f.path === 'anon_inode:[pidfd]') want.mode = null;
    expect({ cloexec: r.cloexec, type: r.type, path: r.path, pos: r.pos, flags: r.flags, mode: r.mode, deleted: r.deleted }, what).toEqual(want);
    // pipes and sockets are known by their inode, an unlinked file by the device and inode
    // of its ghost image; CRIU records a path for other files, not their device or inode
    if (type === 'pipe' || type === 'socket' || (f.deleted && type === 'reg')) expect(r.inode, what).toBe(f.ino);
    if (f.deleted && type === 'reg') expect(r.dev, what).toBe(f.dev);
  });
  return got;
}

/** Every map of each address space: its range, perms, offset, path and deleted flag. */
export function expectMaps(db: Database.Database, checkpoint: number, truth: Map<number, ProcMap[]>): void {
  for (const [pid, maps] of truth) {
    const got = rows(db, 'SELECT m.start_addr, m.end_addr, m.perms, m.pgoff, m.path, m.dev, m.inode, m.attrs FROM maps m JOIN tasks t ON t.mm_id = m.mm_id WHERE t.checkpoint_id = ? AND t.pid = ? ORDER BY m.start_addr', checkpoint, pid);
    // CRIU keeps [vvar] and [vvar_vclock] as one area
    const want = maps.flatMap((m, i) => (m.path === '[vvar_vclock]' ? [] : [{ ...m, end: maps[i + 1]?.path === '[vvar_vclock]' ? maps[i + 1]!.end : m.end }]));
    expect(got.map((r) => r.start_addr), `maps of ${pid}`).toEqual(want.map((m) => m.start));
    got.forEach((r, i) => {
      const m = want[i]!;
      const what = `map ${m.start} of ${pid}`;
      const attrs = r.attrs ? (JSON.parse(String(r.attrs)) as Row) : {};
      expect({ end: r.end_addr, perms: r.perms, pgoff: r.pgoff, path: r.path, deleted: attrs.deleted ?? false }, what).toEqual({
        end: m.end, perms: m.perms, pgoff: m.pgoff, path: m.path, deleted: m.deleted,
      });
      // anonymous memory is on no device; shared anonymous memory and memfds are on their
      // shmem inode; CRIU records no device or inode of a mapped file but an unlinked one's
      if (m.dev === '0:0') expect({ dev: r.dev, inode: r.inode }, what).toEqual({ dev: '0:0', inode: 0 });
      else if (m.path === '/dev/zero' || m.path?.startsWith('/memfd:') || m.deleted) expect(r.inode, what).toBe(m.inode);
    });
  }
}
