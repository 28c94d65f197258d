/**
 * The query commands and the one renderer, through the built CLI, on real captures of
 * test/fixtures/proc-tree.py (helpers/liveTree.ts): every process of the tree has a
 * command line with commas, quotes and a newline.
 */
import { spawnSync } from 'node:child_process';
import { parse as parseCsv } from 'csv-parse/sync';
import { beforeEach, describe, expect, it } from 'vitest';
import { QuerySession } from '../src/index.js';
import { chmodSync } from 'node:fs';
import { CLI, runCli } from './helpers/cli.js';
import { cliAs, NOBODY } from './helpers/nobody.js';
import { objectIds, TRICKY_ARG, useLiveTree, type LiveTree } from './helpers/liveTree.js';
import { startProcTree } from './helpers/processes.js';
import { fdCount, fdRefs, holdersText, procTreeShape, taskHoldersText } from './helpers/procTreeShape.js';
import { tempDir } from './helpers/tmp.js';

/** The rows of a query through the library, as the CLI must print them. */
function libraryRows(db: string, sql: string): Record<string, unknown>[] {
  const session = QuerySession.open(db);
  try {
    return [...session.sql(sql).rows];
  } finally {
    session.close();
  }
}

/** Runs the CLI on a real terminal of the given width (python's pty), as a person would see it. */
function onTerminal(args: string[], db: string, columns: number): { code: number; text: string } {
  const script = `
import fcntl, os, pty, struct, sys, termios
cols = int(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, cols, 0, 0))
    os.execv(argv[0], argv)
out = b''
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const r = spawnSync('python3', ['-c', script, String(columns), process.execPath, CLI, ...args], {
    env: { ...process.env, CKPTDB_DB: db, CKPTDB_DEBUG: '' }, encoding: 'utf8', timeout: 30_000,
  });
  return { code: r.status ?? -1, text: r.stdout.replace(/\r\n/g, '\n') };
}

const live = useLiveTree();
let l: LiveTree;
let db: string;
beforeEach(() => {
  l = live();
  db = l.db;
});

const csvQuote = (s: string) => `"${s.replace(/"/g, '""')}"`;
const processesSql = () => `SELECT pid, ppid, comm, threads, command, cmdline, start_time FROM processes WHERE checkpoint_id = ${l.newest} ORDER BY pid`;

describe('output formats, parsed back', () => {
  it('JSON is an array of objects: numbers stay numbers, nulls stay null', async () => {
    const sql = `SELECT pid, fd, path, pos, flags, object_key FROM open_fds WHERE checkpoint_id = ${l.newest} AND type <> 'memfd' ORDER BY pid, fdtable_id, fd`;
    const r = await runCli(['query', sql, '--json'], { db });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows).toEqual(libraryRows(db, sql));
    expect(rows).toHaveLength(fdRefs(l.shape).length - fdRefs(l.shape).filter((f) => f.file === 'memfd').length);
    // an eventfd stands on no object
    expect(rows.find((f) => f.pid === l.tree.parent && f.fd === l.tree.fds.eventfd)).toEqual({
      pid: l.tree.parent, fd: l.tree.fds.eventfd, path: 'anon_inode:[eventfd]', pos: 0, flags: 2, object_key: null,
    });
  });

  it('keeps 64-bit integers exact in JSON and CSV: the memfd at 2^60 + 1', async () => {
    const sql = 'SELECT 9223372036854775807 AS max, -9007199254740993 AS below, 12 AS small, 1.5 AS real, NULL AS missing';
    const json = await runCli(['query', sql, '--format', 'json'], { db });
    expect(json.stdout).toBe('[\n{"max":9223372036854775807,"below":-9007199254740993,"small":12,"real":1.5,"missing":null}\n]\n');
    const nd = await runCli(['query', sql, '--format', 'ndjson'], { db });
    expect(nd.stdout).toBe('{"max":9223372036854775807,"below":-9007199254740993,"small":12,"real":1.5,"missing":null}\n');
    const csv = await runCli(['query', sql, '--format', 'csv'], { db });
    expect(csv.stdout).toBe('max,below,small,real,missing\n9223372036854775807,-9007199254740993,12,1.5,\n');
    const memfd = `SELECT DISTINCT path, pos FROM open_fds WHERE checkpoint_id = ${l.newest} AND type = 'memfd'`;
    expect((await runCli(['query', memfd, '--json'], { db })).stdout).toBe('[\n{"path":"/memfd:ckptdb-test","pos":1152921504606846977}\n]\n');
    expect((await runCli(['query', memfd, '--format', 'csv'], { db })).stdout).toBe('path,pos\n/memfd:ckptdb-test,1152921504606846977\n');
  });

  it('CSV quotes commas, quotes and newlines in command lines, and parses back to the rows', async () => {
    const r = await runCli(['query', processesSql(), '--format', 'csv'], { db });
    expect(r.code).toBe(0);
    const command = l.tree.argv.join(' ');
    expect(command).toContain(TRICKY_ARG);
    expect(r.stdout).toContain(`,${csvQuote(command)},`);
    const parsed = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    const rows = libraryRows(db, processesSql());
    expect(rows).toHaveLength(l.shape.processes.length);
    expect(parsed).toEqual(rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)]))));
    for (const p of parsed) {
      expect(p.command).toBe(command);
      expect(JSON.parse(p.cmdline!)).toEqual(l.tree.argv);
    }
  });

  it('ndjson and TSV give the same rows, one line each', async () => {
    const rows = libraryRows(db, processesSql());
    const nd = await runCli(['query', processesSql(), '--format', 'ndjson'], { db });
    expect(nd.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual(rows);
    const tsv = await runCli(['query', processesSql(), '--format', 'tsv'], { db });
    const lines = tsv.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(rows.length + 1);
    const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
    const header = lines[0]!.split('\t');
    const back = lines.slice(1).map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], unescape(v)])));
    expect(back).toEqual(rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)]))));
  });

  it('a table is aligned, one line per row, and numbers are right-aligned', async () => {
    const r = await runCli(['query', `SELECT pid, comm, threads FROM processes WHERE checkpoint_id = ${l.newest} ORDER BY pid`], { db });
    const procs = l.shape.processes;
    const pidWidth = Math.max(3, ...procs.map((p) => String(p.pid).length));
    const commWidth = Math.max(4, l.tree.comm.length);
    expect(r.stdout).toBe([
      `${'pid'.padStart(pidWidth)}  ${'comm'.padEnd(commWidth)}  threads`,
      `${'-'.repeat(pidWidth)}  ${'-'.repeat(commWidth)}  -------`,
      ...procs.map((p) => `${String(p.pid).padStart(pidWidth)}  ${l.tree.comm.padEnd(commWidth)}  ${String(p.tids.length).padStart(7)}`),
      '',
    ].join('\n'));
  });

  it('on a terminal, a table is cut to the terminal width', () => {
    const wide = onTerminal(['query', processesSql()], db, 60);
    expect(wide.code).toBe(0);
    const lines = wide.text.trimEnd().split('\n');
    // the newline inside each command line is shown as a space: one line per row
    expect(lines).toHaveLength(2 + l.shape.processes.length);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    expect(lines.some((line) => line.includes('…'))).toBe(true);
    // and not cut when it fits
    const first = l.shape.processes[0]!.pid;
    const narrow = onTerminal(['query', `SELECT pid, comm FROM processes WHERE pid = ${first} AND checkpoint_id = ${l.newest}`], db, 60);
    const w = Math.max(3, String(first).length);
    expect(narrow.text).toBe(`${'pid'.padStart(w)}  comm\n${'-'.repeat(w)}  ${'-'.repeat(Math.max(4, l.tree.comm.length))}\n${first}  ${l.tree.comm}\n`);
  });

  it('stops quietly when the reader goes away', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" query "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT i FROM n" --format ndjson | head -n 3`], {
      env: { ...process.env, CKPTDB_DB: db }, encoding: 'utf8', timeout: 30_000,
    });
    expect(r.stdout).toBe('{"i":1}\n{"i":2}\n{"i":3}\n');
    expect(r.stderr).toBe('');
  });
});

describe('commands over the query layer', () => {
  it('ps draws the tree like pstree -p, with threads and command lines', async () => {
    const { tree, shape } = l;
    const r = await runCli(['ps'], { db });
    expect(r.code).toBe(0);
    const threads = (pid: number) => shape.processes.find((p) => p.pid === pid)!.tids.length;
    const node = (pid: number) => `${tree.comm}(${pid})`;
    const drawn: [string, number][] = [[node(tree.parent), tree.parent]];
    const subtrees = [[tree.c1, tree.g], [tree.c2], [tree.c3, tree.v]].sort((a, b) => a[0]! - b[0]!);
    subtrees.forEach(([child, grandchild], i) => {
      const last = i === subtrees.length - 1;
      drawn.push([`${last ? '└─ ' : '├─ '}${node(child!)}`, child!]);
      if (grandchild) drawn.push([`${last ? '   ' : '│  '}└─ ${node(grandchild)}`, grandchild]);
    });
    const command = tree.argv.join(' ').replace(/\n/g, ' ');
    const w = Math.max(...drawn.map(([text]) => text.length));
    expect(r.stdout).toBe([
      `${'tree'.padEnd(w)}  threads  command`,
      `${'-'.repeat(w)}  -------  ${'-'.repeat(command.length)}`,
      ...drawn.map(([text, pid]) => `${text.padEnd(w)}  ${String(threads(pid)).padStart(7)}  ${command}`),
      '',
    ].join('\n'));
    const json = JSON.parse((await runCli(['ps', String(l.newest), '--pid', String(tree.c3), '--json'], { db })).stdout) as Record<string, unknown>[];
    const row = (pid: number, ppid: number, depth: number) => ({
      pid, ppid, depth, comm: tree.comm, threads: threads(pid), state: 'S', state_text: 'sleeping', uid: process.getuid!(), command: tree.argv.join(' '), cmdline: tree.argv,
    });
    expect(json).toEqual([row(tree.c3, tree.parent, 0), row(tree.v, tree.c3, 1)]);
  });

  it('fds lists open files like lsof; its JSON rows carry what a script needs', async () => {
    const { tree, shape } = l;
    const r = await runCli(['fds', '--pid', String(tree.g), '--json'], { db });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    for (const f of rows) {
      expect(Object.keys(f)).toEqual(expect.arrayContaining(['pid', 'fd', 'cloexec', 'type', 'path', 'pos', 'flags', 'file_id', 'shared']));
    }
    const expected = fdRefs(shape)
      .filter((f) => f.pid === tree.g)
      .map((f) => {
        const file = shape.files[f.file];
        // JSON.parse rounds the memfd's position above 2^53 (the text is exact: see the JSON test)
        return [f.pid, f.fd, f.cloexec, file.type, file.path, typeof file.pos === 'bigint' ? Number(file.pos) : file.pos, file.flags, fdCount(shape, f.file)];
      });
    expect(rows.map((f) => [f.pid, f.fd, f.cloexec, f.type, f.path, f.pos, f.flags, f.shared])).toEqual(expected);
    const all = JSON.parse((await runCli(['fds', '--json'], { db })).stdout) as { file_id: number; pid: number; tid: number; fd: number }[];
    expect(all).toHaveLength(fdRefs(shape).length);
    // stdout is one open file in every fd table: one file_id for every process
    const stdout = all.filter((f) => f.file_id === rows.find((x) => x.fd === 1)!.file_id);
    expect(stdout.map((f) => `${f.pid}/${f.tid}:${f.fd}`).sort()).toEqual(fdRefs(shape).filter((f) => f.file === 'stdout').map((f) => `${f.pid}/${f.tid}:1`).sort());
    // the older checkpoint, by id
    const older = JSON.parse((await runCli(['fds', String(l.older), '--pid', String(tree.g), '--json'], { db })).stdout) as Record<string, unknown>[];
    expect(older.map((f) => f.fd)).toEqual(rows.map((f) => f.fd));
    expect(older.map((f) => f.file_id)).not.toEqual(rows.map((f) => f.file_id));
  });

  it('objects lists shared objects with refcounts and holders', async () => {
    const { tree, shape } = l;
    const session = QuerySession.open(db);
    const ids = objectIds(session.db, l.newest);
    session.close();
    const r = await runCli(['objects', '--kind', 'socket', '--format', 'csv'], { db });
    expect(r.code).toBe(0);
    const sockets = (['stdout', 'sock_a', 'sock_b', 'listen', 'accepted', 'udp', 'client'] as const)
      .map((name) => ({ key: shape.files[name].path, holders: holdersText(fdRefs(shape).filter((f) => f.file === name)) }))
      .sort((a, b) => ids('socket', a.key) - ids('socket', b.key));
    const rows = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((o) => [o.key, o.refcount, o.holders])).toEqual(sockets.map((s) => [s.key, '1', s.holders]));
    const shared = JSON.parse((await runCli(['objects', String(l.newest), '--shared', '--kind', 'fdtable', '--json'], { db })).stdout) as Record<string, unknown>[];
    expect(shared.map((o) => [o.key, o.refcount, o.holders])).toEqual([
      [String(tree.c3), 2, taskHoldersText(shape, [tree.c3, tree.v])],
      [String(tree.c2), 4, taskHoldersText(shape, [tree.c2, ...tree.threads])],
    ]);
  });

  it('q --list shows every canned query with its description and parameters', async () => {
    const r = await runCli(['q', '--list', '--json'], { db });
    const list = JSON.parse(r.stdout) as { name: string; description: string; params: string }[];
    expect(list.map((q) => q.name)).toContain('pipes');
    expect(list.find((q) => q.name === 'pipes')).toEqual({
      name: 'pipes', description: 'Pipes and FIFOs with both ends: who holds the read end and who the write end.', params: 'checkpoint=newest [pid] limit=100',
    });
    const run = await runCli(['q', 'fd_counts', '-p', 'limit=2', '--format', 'csv'], { db });
    // the parent holds 18 fds, C1 17: 0-2 and what the parent opened before the fork, and each its own
    const command = csvQuote(l.tree.argv.join(' '));
    expect(run.stdout).toBe(`pid,comm,fds,threads,command,unreadable\n${l.tree.parent},${l.tree.comm},18,1,${command},\n${l.tree.c1},${l.tree.comm},17,1,${command},\n`);
  });

  it('query - reads the statement from standard input', async () => {
    const input = '-- which files G holds\nSELECT fd, path\n  FROM open_fds\n WHERE pid = :pid AND fd < 2\n   AND checkpoint_id = (SELECT max(id) FROM checkpoints)\n ORDER BY fd;\n';
    const r = await runCli(['query', '-', '--json', '-p', `pid=${l.tree.g}`], { db, input });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ fd: 0, path: '/dev/null' }, { fd: 1, path: l.shape.files.stdout.path }]);
  });

  it('show summarises the newest checkpoint, or the one asked for, with how it was captured', async () => {
    const fds = l.shape.tables.reduce((n, t) => n + t.fds.length, 0);
    const d = JSON.parse((await runCli(['show', '--json'], { db })).stdout) as Record<string, unknown>;
    expect(d).toMatchObject({
      id: l.newest, label: 'newest', source: 'proc', frozen: false, root_pid: l.tree.parent,
      counts: { tasks: 10, processes: 6, fds, files: Object.keys(l.shape.files).length, sockets: l.shape.sockets.size },
      meta: {
        capture: { pids: [l.tree.parent], tree: true, withEnv: false, skip: [] },
        warnings: { vanishedTasks: 0, vanishedFds: 0, unreadable: 0, inferredObjects: 0, notStopped: [] },
        kcmp: { used: true },
      },
    });
    const table = (await runCli(['show', String(l.older)], { db })).stdout;
    expect(table).toMatch(/^label +older$/m);
    expect(table).toMatch(new RegExp(`^captured +${l.tree.parent} and its descendants$`, 'm'));
    expect(table).toMatch(/^environments +not recorded$/m);
    expect(table).toMatch(/^kcmp +available \(\d+ calls\)$/m);
    expect(table).toMatch(/^warnings +none$/m);
    expect(table).toMatch(new RegExp(`^fds +${fds}$`, 'm'));
    expect(table).toMatch(/^objects: fdtable +6 \(2 shared, 10 refs\)$/m);
  });

  it('answers a bad query with one line and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['query', 'SELEC * FROM tasks'], /^ckptdb: SQL error: near "SELEC": syntax error\n$/],
      [['query', 'SELECT * FROM nosuchtable'], /^ckptdb: SQL error: no such table: nosuchtable\n$/],
      [['query', 'SELECT * FROM tasks WHERE pid = :pid'], /^ckptdb: the query uses :pid but no value was given \(pass --param pid=VALUE\)\n$/],
      [['query', 'SELECT * FROM tasks WHERE pid = ?'], /^ckptdb: the query has a \? parameter; parameters are bound by name/],
      [['query', '  '], /^ckptdb: the query is empty\n$/],
      [['query', 'SELECT 1', '-p', 'novalue'], /^ckptdb: --param novalue: expected name=value/],
      [['q', 'nosuch'], /^ckptdb: no canned query named 'nosuch' \(`ckptdb q --list` shows them: deleted_files, /],
      [['q'], /^ckptdb: q needs the name of a canned query/],
      [['q', 'pipes', '-p', 'pidd=1'], /^ckptdb: canned query pipes has no parameter 'pidd' \(its parameters: checkpoint, pid, limit\)\n$/],
      [['q', 'pipes', '-p', 'checkpoint=7'], /^ckptdb: no checkpoint 7 in /],
      [['ps', '7'], /^ckptdb: no checkpoint 7 in /],
      [['show', '7'], /^ckptdb: no checkpoint 7 in /],
      [['show', 'x'], /^ckptdb: checkpoint id 'x' is not a positive integer\n$/],
      [['fds', '1', '--pid', 'x'], /^ckptdb: pid 'x' is not a positive integer\n$/],
      [['query', 'SELECT 1', '--format', 'xml'], /^ckptdb: --format xml: expected one of table, json, ndjson, csv, tsv\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { db });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('each command explains itself in --help, with examples', async () => {
    for (const cmd of ['query', 'q', 'ps', 'fds', 'objects', 'show']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/--format <format>/);
      expect(r.stdout, cmd).toMatch(/^Examples:$/m);
    }
  });
});

describe.skipIf(process.getuid?.() !== 0)('on a capture without full access (run as nobody)', () => {
  it('show gives its warnings; fd_counts says the fds are unknown, not 0; shared_tasks says the sharing was guessed', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o777);
    const tree = await startProcTree(tempDir());
    const db = `${dir}/store.sqlite`;
    const nobody = cliAs(['--reuid', NOBODY, '--regid', NOBODY]);
    const capture = await runCli(['capture', String(tree.parent), '--tree'], { db, command: nobody });
    expect(capture.code, capture.stderr).toBe(0);

    const show = (await runCli(['show'], { db })).stdout;
    expect(show).toMatch(/^kcmp +available \(\d+ calls\)$/m);
    expect(show).toMatch(/^warning +\d+ entries could not be read \(permission\) and are recorded as unreadable$/m);
    expect(show).toMatch(/^warning +sharing of \d+ objects was inferred, not decided by kcmp$/m);
    expect(show).toMatch(/^fds +0$/m);

    const shape = procTreeShape(tree);
    const counts = JSON.parse((await runCli(['q', 'fd_counts', '--json'], { db })).stdout) as unknown[];
    expect(counts).toEqual(shape.processes.map((p) => ({
      pid: p.pid, comm: tree.comm, fds: null, threads: p.tids.length, command: tree.argv.join(' '), unreadable: expect.stringMatching(/^EACCES/),
    })));

    // kcmp refused: threads of one process are guessed to share, V (another process) is not
    const session = QuerySession.open(db);
    const ids = objectIds(session.db, 1);
    session.close();
    const guessed = (kind: string, tids: number[]) => ({
      kind, key: String(tids[0]), tasks: tids.length, processes: 1, holders: taskHoldersText(shape, tids), inferred: 1, object_id: ids(kind, String(tids[0])),
    });
    const c2 = [tree.c2, ...tree.threads];
    const c3 = [tree.c3, tree.t];
    const expected = [guessed('mm', c2), guessed('fdtable', c2), guessed('mm', c3), guessed('fdtable', c3)]
      .sort((a, b) => b.tasks - a.tasks || a.object_id - b.object_id);
    expect(JSON.parse((await runCli(['q', 'shared_tasks', '--json'], { db })).stdout)).toEqual(expected);
  });
});
