/**
 * Cross-check against lsof: for a spawned tree, the (pid, fd, type, path or object,
 * offset) that ckptdb stores equal what `lsof -n -P -o` reports for those pids.
 *
 * Normalisation, because lsof names things its own way:
 *   - only numbered fds: lsof's cwd/rtd/txt/mem rows are not fds;
 *   - types: reg and memfd are REG, pipe and fifo FIFO, dir/chr/blk DIR/CHR/BLK, sockets
 *     by family (unix, IPv4, IPv6, other sock), every anon-inode file (eventfd, epoll,
 *     timerfd, signalfd, inotify, ...) a_inode;
 *   - path or object: files with a path compare by path, with ' (deleted)' appended as
 *     lsof does; pipes, unix sockets and anon-inode files by inode number (lsof names
 *     them 'pipe', 'type=STREAM', '[eventfd:7]'); inet sockets by 'addr:port', with
 *     '->addr:port' once connected, IPv6 addresses in brackets;
 *   - offsets: lsof prints 0tDECIMAL, or 0xHEX once they are large.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { startFixture } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

type Entry = string;

function entry(pid: number, fd: number, type: string, what: string, offset: bigint): Entry {
  return `${pid} ${fd} ${type} ${what} ${offset}`;
}

/** lsof -F output: a 'p' line starts a process, an 'f' line a file; fields follow one per line. */
function lsofEntries(pids: number[]): Entry[] {
  const out = execFileSync('lsof', ['-n', '-P', '-o', '-F', 'ftoin', '-p', pids.join(',')], { encoding: 'utf8' });
  const entries: Entry[] = [];
  let pid = 0;
  let file: Record<string, string> | null = null;
  const flush = () => {
    if (!file || !/^\d+$/.test(file.f!)) return;
    const type = file.t!;
    const byInode = type === 'FIFO' && file.n === 'pipe' ? `pipe:${file.i}` : type === 'unix' ? `unix:${file.i}` : type === 'a_inode' ? `anon:${file.i}` : file.n!;
    const off = file.o!;
    entries.push(entry(pid, Number(file.f), type, byInode, off.startsWith('0t') ? BigInt(off.slice(2)) : BigInt(off)));
  };
  for (const line of out.split('\n')) {
    const [tag, value] = [line[0], line.slice(1)];
    if (tag === 'p') {
      flush();
      file = null;
      pid = Number(value);
    } else if (tag === 'f') {
      flush();
      file = { f: value };
    } else if (file && tag) {
      file[tag] = value;
    }
  }
  flush();
  return entries.sort();
}

const LSOF_TYPE: Record<string, string> = {
  reg: 'REG', memfd: 'REG', dir: 'DIR', chr: 'CHR', blk: 'BLK', pipe: 'FIFO', fifo: 'FIFO',
  eventfd: 'a_inode', epoll: 'a_inode', timerfd: 'a_inode', signalfd: 'a_inode', inotify: 'a_inode', fanotify: 'a_inode', anon: 'a_inode',
};

interface Row {
  pid: number;
  fd: number;
  type: string;
  path: string | null;
  deleted: number;
  inode: bigint;
  pos: bigint;
  family: string | null;
  local_addr: string | null;
  local_port: number | null;
  remote_addr: string | null;
  remote_port: number | null;
}

function inet(addr: string, port: number | null, v6: boolean): string {
  return `${v6 ? `[${addr}]` : addr}:${port}`;
}

function ckptdbEntries(db: string, id: number, pids: number[]): Entry[] {
  const store = openStore(db, { create: false });
  const rows = store.db
    .prepare(
      `SELECT t.pid, d.fd, f.type, f.path, f.deleted, f.inode, f.pos,
              s.family, s.local_addr, s.local_port, s.remote_addr, s.remote_port
       FROM tasks t JOIN fds d ON d.fdtable_id = t.fdtable_id JOIN files f ON f.id = d.file_id
       LEFT JOIN sockets s ON s.object_id = f.object_id
       WHERE t.checkpoint_id = ? AND t.pid = t.tgid AND t.pid IN (${pids.map(() => '?').join(',')})`,
    )
    .safeIntegers(true)
    .all(id, ...pids) as Record<string, unknown>[];
  store.close();
  return rows
    .map((raw) => {
      const r = { ...raw, pid: Number(raw.pid), fd: Number(raw.fd), local_port: raw.local_port === null ? null : Number(raw.local_port), remote_port: raw.remote_port === null ? null : Number(raw.remote_port) } as Row;
      if (r.type === 'socket') {
        if (r.family === 'unix') return entry(r.pid, r.fd, 'unix', `unix:${r.inode}`, r.pos);
        const v6 = r.family === 'inet6';
        const local = inet(r.local_addr!, r.local_port, v6);
        const name = r.remote_port ? `${local}->${inet(r.remote_addr!, r.remote_port, v6)}` : local;
        return entry(r.pid, r.fd, v6 ? 'IPv6' : r.family === 'inet' ? 'IPv4' : 'sock', name, r.pos);
      }
      const type = LSOF_TYPE[r.type] ?? r.type;
      if (r.type === 'pipe') return entry(r.pid, r.fd, type, `pipe:${r.inode}`, r.pos);
      if (type === 'a_inode') return entry(r.pid, r.fd, type, `anon:${r.inode}`, r.pos);
      return entry(r.pid, r.fd, type, r.deleted ? `${r.path} (deleted)` : r.path!, r.pos);
    })
    .sort();
}

describe('capture against lsof', () => {
  it('stores the same (pid, fd, type, path or object, offset) as lsof -n -P -o reports', async () => {
    const db = tempStorePath();
    const tree = await startFixture<{ parent: number; c1: number; c2: number; g: number }>('proc-tree.py', [tempDir()]);
    const pids = [tree.info.parent, tree.info.c1, tree.info.c2, tree.info.g];
    const r = await runCli(['capture', String(tree.info.parent), '--tree'], { db });
    expect(r.code, r.stderr).toBe(0);
    const ours = ckptdbEntries(db, Number(r.stdout), pids);
    const theirs = lsofEntries(pids);
    expect(theirs.length).toBeGreaterThan(60);
    expect(ours).toEqual(theirs);
  });
});
