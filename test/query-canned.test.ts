import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cannedQueries, openStore, QuerySession, type Params } from '../src/index.js';
import { FILES, fillKnownTree, WORKER_ARGV, type FileName, type KnownTree } from './helpers/knownTree.js';
import { tempStorePath } from './helpers/tmp.js';

/**
 * Every canned query against a checkpoint of known shape, with its exact rows.
 * The store holds an older checkpoint of the same tree (other pids) first, so each
 * query must keep to the checkpoint it is given, and default to the newest.
 */
let session: QuerySession;
let tree: KnownTree;
let older: KnownTree;

beforeEach(() => {
  const path = tempStorePath();
  const store = openStore(path);
  older = fillKnownTree(store, 5000, 'older');
  tree = fillKnownTree(store, 1000, 'newest');
  store.close();
  session = QuerySession.open(path);
});
afterEach(() => session.close());

function run(name: string, params: Params = {}): Record<string, unknown>[] {
  return [...session.canned(name, params).rows];
}

const SHELL = 1000, SERVER = 1100, WORKER = 1200, VFORKER = 1201, CAT = 1300;

/** An fd row as open_files gives it: [pid, tid, comm, fd, cloexec, file]. */
type FdRow = [number, number, string, number, 0 | 1, FileName];

function openFileRow([pid, tid, comm, fd, cloexec, name]: FdRow) {
  const f = FILES[name];
  return {
    pid, tid, comm, fd, cloexec, type: f.type, path: f.path, pos: f.pos, flags: f.flags, mode: f.mode,
    deleted: 'deleted' in f && f.deleted ? 1 : 0, file_id: tree.files[name], shared: f.shared,
    object_kind: f.object[0], object_key: f.object[1],
  };
}

const ALL_FDS: FdRow[] = [
  [SHELL, SHELL, 'bash', 0, 0, 'null'], [SHELL, SHELL, 'bash', 1, 0, 'tty'], [SHELL, SHELL, 'bash', 2, 0, 'tty'],
  [SERVER, SERVER, 'python3', 0, 0, 'null'], [SERVER, SERVER, 'python3', 1, 0, 'xw'], [SERVER, SERVER, 'python3', 2, 0, 'xw'],
  [SERVER, SERVER, 'python3', 3, 1, 'listen'], [SERVER, SERVER, 'python3', 4, 0, 'log'], [SERVER, SERVER, 'python3', 5, 1, 'scratch'],
  [SERVER, SERVER, 'python3', 6, 1, 'yw'],
  // the thread that unshared its fd table: same process, a table of its own
  [SERVER, SERVER + 2, 'python3', 0, 0, 'null'], [SERVER, SERVER + 2, 'python3', 1, 0, 'xw'], [SERVER, SERVER + 2, 'python3', 2, 0, 'xw'],
  [WORKER, WORKER, 'python3', 0, 0, 'null'], [WORKER, WORKER, 'python3', 1, 0, 'xw'], [WORKER, WORKER, 'python3', 2, 0, 'xw'],
  [WORKER, WORKER, 'python3', 3, 1, 'listen'], [WORKER, WORKER, 'python3', 4, 0, 'log'], [WORKER, WORKER, 'python3', 5, 1, 'yr'],
  [WORKER, WORKER, 'python3', 6, 1, 'conn'], [WORKER, WORKER, 'python3', 7, 1, 'ua'], [WORKER, WORKER, 'python3', 8, 1, 'ub'],
  [VFORKER, VFORKER, 'sh', 0, 0, 'null'], [VFORKER, VFORKER, 'sh', 1, 0, 'xw'], [VFORKER, VFORKER, 'sh', 2, 0, 'xw'],
  [CAT, CAT, 'cat', 0, 0, 'xr'], [CAT, CAT, 'cat', 1, 0, 'out'], [CAT, CAT, 'cat', 2, 0, 'tty'], [CAT, CAT, 'cat', 3, 1, 'udp'],
];

describe('canned queries on a known process tree', () => {
  it('there is a test below for every canned query', () => {
    expect([...cannedQueries().keys()].sort()).toEqual([
      'deleted_files', 'fd_counts', 'no_cloexec', 'objects', 'open_files', 'pipes', 'process_tree', 'shared_files', 'shared_tasks', 'sockets',
    ]);
  });

  it('open_files: every fd of every process, with its file and how many fds share it', () => {
    expect(run('open_files')).toEqual(ALL_FDS.map(openFileRow));
    expect(run('open_files', { pid: WORKER })).toEqual(ALL_FDS.filter((r) => r[0] === WORKER).map(openFileRow));
    expect(run('open_files', { pid: SERVER, limit: 2 })).toEqual(ALL_FDS.slice(3, 5).map(openFileRow));
    // the older checkpoint is there, under its own pids
    const old = run('open_files', { checkpoint: older.checkpointId, pid: 5000 });
    expect(old.map((r) => [r.pid, r.fd, r.file_id])).toEqual([[5000, 0, older.files.null], [5000, 1, older.files.tty], [5000, 2, older.files.tty]]);
    expect(run('open_files', { pid: 5000 })).toEqual([]);
  });

  it('shared_files: files with more than one fd, most shared first, with their holders', () => {
    const row = (name: FileName, processes: number, holders: string) => {
      const f = FILES[name];
      return { file_id: tree.files[name], type: f.type, path: f.path, pos: f.pos, flags: f.flags, fds: f.shared, processes, holders };
    };
    expect(run('shared_files')).toEqual([
      row('xw', 3, `${SERVER}:1,2 ${SERVER}/${SERVER + 2}:1,2 ${WORKER}:1,2 ${VFORKER}:1,2`),
      row('null', 4, `${SHELL}:0 ${SERVER}:0 ${SERVER}/${SERVER + 2}:0 ${WORKER}:0 ${VFORKER}:0`),
      row('tty', 2, `${SHELL}:1,2 ${CAT}:2`),
      row('listen', 2, `${SERVER}:3 ${WORKER}:3`),
      row('log', 2, `${SERVER}:4 ${WORKER}:4`),
    ]);
    expect(run('shared_files', { pid: CAT }).map((r) => r.path)).toEqual(['/dev/pts/0']);
    expect(run('shared_files', { limit: 1 }).map((r) => r.path)).toEqual(['pipe:[5001]']);
  });

  it('pipes: both ends of each pipe and who holds each', () => {
    const x = { pipe_id: tree.objects['pipe:[5001]'], pipe: 'pipe:[5001]', read_end: `${CAT}:0`, write_end: `${SERVER}:1,2 ${SERVER}/${SERVER + 2}:1,2 ${WORKER}:1,2 ${VFORKER}:1,2` };
    const y = { pipe_id: tree.objects['pipe:[5002]'], pipe: 'pipe:[5002]', read_end: `${WORKER}:5`, write_end: `${SERVER}:6` };
    expect(run('pipes')).toEqual([x, y]);
    expect(run('pipes', { pid: CAT })).toEqual([x]);
    expect(run('pipes', { pid: SHELL })).toEqual([]);
  });

  it('sockets: listeners first, then connected sockets, with their holders', () => {
    const listening = {
      role: 'listening', family: 'inet', type: 'stream', state: 'LISTEN', local_addr: '127.0.0.1', local_port: 8080,
      remote_addr: null, remote_port: null, peer_ino: null, socket: 'socket:[6001]', holders: `${SERVER}:3 ${WORKER}:3`,
    };
    const unix = (ino: number, peer: number, fd: number) => ({
      role: 'connected', family: 'unix', type: 'stream', state: null, local_addr: null, local_port: null,
      remote_addr: null, remote_port: null, peer_ino: peer, socket: `socket:[${ino}]`, holders: `${WORKER}:${fd}`,
    });
    const tcp = {
      role: 'connected', family: 'inet', type: 'stream', state: 'ESTABLISHED', local_addr: '127.0.0.1', local_port: 8080,
      remote_addr: '127.0.0.1', remote_port: 50000, peer_ino: null, socket: 'socket:[6002]', holders: `${WORKER}:6`,
    };
    // the unconnected UDP socket of cat is neither listening nor connected
    expect(run('sockets')).toEqual([listening, unix(6003, 6004, 7), unix(6004, 6003, 8), tcp]);
    expect(run('sockets', { state: 'LISTEN' })).toEqual([listening]);
    expect(run('sockets', { state: 'ESTABLISHED' })).toEqual([tcp]);
    expect(run('sockets', { pid: SERVER })).toEqual([listening]);
    expect(run('sockets', { pid: CAT })).toEqual([]);
    expect(run('sockets', { limit: 2 })).toEqual([listening, unix(6003, 6004, 7)]);
  });

  it('deleted_files: files unlinked but still open', () => {
    expect(run('deleted_files')).toEqual([{
      pid: SERVER, comm: 'python3', fd: 5, type: 'reg', path: '/tmp/ckptdb/scratch', pos: 0, flags: 0o2, dev: '8:1', inode: 1002,
      file_id: tree.files.scratch, shared: 1,
    }]);
    expect(run('deleted_files', { pid: WORKER })).toEqual([]);
  });

  it('fd_counts: fds per process, largest first', () => {
    expect(run('fd_counts')).toEqual([
      { pid: SERVER, comm: 'python3', fds: 10, threads: 3, command: 'python3 server.py --port 8080' },
      { pid: WORKER, comm: 'python3', fds: 9, threads: 1, command: WORKER_ARGV.join(' ') },
      { pid: CAT, comm: 'cat', fds: 4, threads: 1, command: 'cat' },
      { pid: SHELL, comm: 'bash', fds: 3, threads: 1, command: 'bash -c server | cat' },
      { pid: VFORKER, comm: 'sh', fds: 3, threads: 1, command: 'sh -c true' },
    ]);
    expect(run('fd_counts', { limit: 1 }).map((r) => r.pid)).toEqual([SERVER]);
  });

  it('no_cloexec: the fds a process would hand to a program it runs', () => {
    const rows = ALL_FDS.filter((r) => r[4] === 0).map((r) => {
      const { pid, comm, fd, type, path, flags, file_id, shared } = openFileRow(r);
      return { pid, comm, fd, type, path, flags, file_id, shared };
    });
    expect(run('no_cloexec')).toEqual(rows);
    expect(run('no_cloexec', { pid: CAT }).map((r) => r.fd)).toEqual([0, 1, 2]);
  });

  it('shared_tasks: address spaces and fd tables of more than one task', () => {
    const mmServer = { kind: 'mm', key: 'mm:server', tasks: 3, processes: 1, holders: `${SERVER}/${SERVER},${SERVER + 1},${SERVER + 2}`, object_id: tree.objects['mm:server'] };
    const ftServer = { kind: 'fdtable', key: 'fdtable:server', tasks: 2, processes: 1, holders: `${SERVER}/${SERVER},${SERVER + 1}`, object_id: tree.objects['fdtable:server'] };
    // the vfork child shares the worker's address space: two processes
    const mmWorker = { kind: 'mm', key: 'mm:worker', tasks: 2, processes: 2, holders: `${WORKER}/${WORKER} ${VFORKER}/${VFORKER}`, object_id: tree.objects['mm:worker'] };
    expect(run('shared_tasks')).toEqual([mmServer, ftServer, mmWorker]);
    expect(run('shared_tasks', { kind: 'mm' })).toEqual([mmServer, mmWorker]);
    expect(run('shared_tasks', { pid: VFORKER })).toEqual([mmWorker]);
    expect(run('shared_tasks', { kind: 'fs' })).toEqual([]);
  });

  it('process_tree: depth first, parents before children', () => {
    const p = (pid: number, ppid: number, depth: number, comm: string, threads: number, argv: string[]) =>
      ({ pid, ppid, depth, comm, threads, state: 'S', uid: 1000, command: argv.join(' '), cmdline: JSON.stringify(argv) });
    const shell = p(SHELL, 1, 0, 'bash', 1, ['bash', '-c', 'server | cat']);
    const server = p(SERVER, SHELL, 1, 'python3', 3, ['python3', 'server.py', '--port', '8080']);
    const worker = p(WORKER, SERVER, 2, 'python3', 1, WORKER_ARGV);
    const vforker = p(VFORKER, WORKER, 3, 'sh', 1, ['sh', '-c', 'true']);
    const cat = p(CAT, SHELL, 1, 'cat', 1, ['cat']);
    expect(run('process_tree')).toEqual([shell, server, worker, vforker, cat]);
    expect(run('process_tree', { pid: SERVER })).toEqual([{ ...server, depth: 0 }, { ...worker, depth: 1 }, { ...vforker, depth: 2 }]);
    expect(run('process_tree', { pid: 4242 })).toEqual([]);
  });

  it('objects: refcounts and holders of every kind of object', () => {
    const pipes = run('objects', { kind: 'pipe' });
    expect(pipes).toEqual([
      { object_id: tree.objects['pipe:[5001]'], kind: 'pipe', key: 'pipe:[5001]', refcount: 2, inferred: 0, holders: `${SERVER}:1,2 ${SERVER}/${SERVER + 2}:1,2 ${WORKER}:1,2 ${VFORKER}:1,2 ${CAT}:0` },
      { object_id: tree.objects['pipe:[5002]'], kind: 'pipe', key: 'pipe:[5002]', refcount: 2, inferred: 0, holders: `${SERVER}:6 ${WORKER}:5` },
    ]);
    // by kind, then refcount, least shared first
    expect(run('objects', { kind: 'mm', shared: 1 }).map((o) => [o.key, o.refcount, o.holders])).toEqual([
      ['mm:worker', 2, `${WORKER}/${WORKER} ${VFORKER}/${VFORKER}`],
      ['mm:server', 3, `${SERVER}/${SERVER},${SERVER + 1},${SERVER + 2}`],
    ]);
    expect(run('objects', { kind: 'ns' }).map((o) => [o.key, o.refcount, o.holders])).toEqual([
      ['net:[4026531840]', 7, `${SHELL}/${SHELL} ${SERVER}/${SERVER},${SERVER + 1},${SERVER + 2} ${WORKER}/${WORKER} ${VFORKER}/${VFORKER} ${CAT}/${CAT}`],
    ]);
    expect(run('objects', { kind: 'file', shared: 1 }).map((o) => o.key)).toEqual(['file:listen', 'file:log', 'file:tty', 'file:null', 'file:xw']);
    expect(run('objects', { shared: 1 }).map((o) => o.kind)).toEqual(['fdtable', 'file', 'file', 'file', 'file', 'file', 'mm', 'mm', 'ns', 'pipe', 'pipe']);
    expect(run('objects', { kind: 'file' }).find((o) => o.key === 'file:log')?.holders).toBe(`${SERVER}:4 ${WORKER}:4`);
    // every object of the checkpoint, once
    const all = run('objects', { limit: -1 });
    const count = session.db.prepare('SELECT count(*) FROM shared_objects WHERE checkpoint_id = ?').pluck().get(tree.checkpointId);
    expect(all).toHaveLength(count as number);
  });

  it('refuses unknown queries and parameters, and checkpoints that do not exist', () => {
    expect(() => run('nope')).toThrowError(/^no canned query named 'nope'$/);
    expect(() => run('pipes', { pidd: 3 })).toThrowError("canned query pipes has no parameter 'pidd'");
    expect(() => run('pipes', { checkpoint: 99 })).toThrowError(/^no checkpoint 99 in /);
    expect(() => run('pipes', { checkpoint: 'x' })).toThrowError('--param checkpoint=x: a checkpoint id is a positive integer');
  });
});
