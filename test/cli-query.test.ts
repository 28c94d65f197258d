import { spawnSync } from 'node:child_process';
import { parse as parseCsv } from 'csv-parse/sync';
import { beforeEach, describe, expect, it } from 'vitest';
import { QuerySession } from '../src/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { WORKER_ARGV } from './helpers/knownTree.js';
import { knownTreeStore } from './helpers/knownTreeStore.js';

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

let db: string;
beforeEach(() => {
  db = knownTreeStore();
});

const PROCESSES = 'SELECT pid, ppid, comm, threads, command, cmdline, start_time FROM processes ORDER BY pid';

describe('output formats, parsed back', () => {
  it('JSON is an array of objects: numbers stay numbers, nulls stay null', async () => {
    const sql = 'SELECT pid, fd, path, pos, flags, deleted FROM open_fds ORDER BY pid, fdtable_id, fd';
    const r = await runCli(['query', sql, '--json'], { db });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows).toEqual(libraryRows(db, sql));
    expect(rows).toHaveLength(29);
    expect(rows[4]).toEqual({ pid: 1100, fd: 1, path: 'pipe:[5001]', pos: null, flags: 1, deleted: 0 });
  });

  it('keeps 64-bit integers exact in JSON and CSV', async () => {
    const sql = 'SELECT 9223372036854775807 AS max, -9007199254740993 AS below, 12 AS small, 1.5 AS real, NULL AS missing';
    const json = await runCli(['query', sql, '--format', 'json'], { db });
    expect(json.stdout).toBe('[\n{"max":9223372036854775807,"below":-9007199254740993,"small":12,"real":1.5,"missing":null}\n]\n');
    const nd = await runCli(['query', sql, '--format', 'ndjson'], { db });
    expect(nd.stdout).toBe('{"max":9223372036854775807,"below":-9007199254740993,"small":12,"real":1.5,"missing":null}\n');
    const csv = await runCli(['query', sql, '--format', 'csv'], { db });
    expect(csv.stdout).toBe('max,below,small,real,missing\n9223372036854775807,-9007199254740993,12,1.5,\n');
  });

  it('CSV quotes commas, quotes and newlines in command lines, and parses back to the rows', async () => {
    const r = await runCli(['query', PROCESSES, '--format', 'csv'], { db });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"python3 -c print(""a, b"")\nwork() --name=w,""1"""');
    const parsed = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    const rows = libraryRows(db, PROCESSES);
    expect(parsed).toEqual(rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)]))));
    expect(parsed.find((p) => p.pid === '1200')?.command).toBe(WORKER_ARGV.join(' '));
    expect(JSON.parse(parsed.find((p) => p.pid === '1200')!.cmdline!)).toEqual(WORKER_ARGV);
  });

  it('ndjson and TSV give the same rows, one line each', async () => {
    const rows = libraryRows(db, PROCESSES);
    const nd = await runCli(['query', PROCESSES, '--format', 'ndjson'], { db });
    expect(nd.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(rows);
    const tsv = await runCli(['query', PROCESSES, '--format', 'tsv'], { db });
    const lines = tsv.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(rows.length + 1);
    const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
    const header = lines[0]!.split('\t');
    const back = lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i], unescape(v)])));
    expect(back).toEqual(rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)]))));
  });

  it('a table is aligned, one line per row, and numbers are right-aligned', async () => {
    const r = await runCli(['query', 'SELECT pid, comm, threads FROM processes ORDER BY pid'], { db });
    expect(r.stdout).toBe([
      ' pid  comm     threads',
      '----  -------  -------',
      '1000  bash           1',
      '1100  python3        3',
      '1200  python3        1',
      '1201  sh             1',
      '1300  cat            1',
      '',
    ].join('\n'));
  });

  it('on a terminal, a table is cut to the terminal width', () => {
    const wide = onTerminal(['query', PROCESSES], db, 60);
    expect(wide.code).toBe(0);
    const lines = wide.text.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    expect(lines.some((l) => l.includes('…'))).toBe(true);
    // and not cut when it fits
    const narrow = onTerminal(['query', 'SELECT pid, comm FROM processes ORDER BY pid LIMIT 1'], db, 60);
    expect(narrow.text).toBe(' pid  comm\n----  ----\n1000  bash\n');
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
    const r = await runCli(['ps'], { db });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([
      'tree                 threads  command',
      '-------------------  -------  --------------------------------------------',
      'bash(1000)                 1  bash -c server | cat',
      '├─ python3(1100)           3  python3 server.py --port 8080',
      '│  └─ python3(1200)        1  python3 -c print("a, b") work() --name=w,"1"',
      '│     └─ sh(1201)          1  sh -c true',
      '└─ cat(1300)               1  cat',
      '',
    ].join('\n'));
    const json = JSON.parse((await runCli(['ps', '1', '--pid', '1200', '--json'], { db })).stdout) as Record<string, unknown>[];
    expect(json).toEqual([
      { pid: 1200, ppid: 1100, depth: 0, comm: 'python3', threads: 1, state: 'S', uid: 1000, command: WORKER_ARGV.join(' '), cmdline: WORKER_ARGV },
      { pid: 1201, ppid: 1200, depth: 1, comm: 'sh', threads: 1, state: 'S', uid: 1000, command: 'sh -c true', cmdline: ['sh', '-c', 'true'] },
    ]);
  });

  it('fds lists open files like lsof; its JSON rows carry what a script needs', async () => {
    const r = await runCli(['fds', '1', '--pid', '1300', '--json'], { db });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((f) => [f.pid, f.fd, f.cloexec, f.type, f.path, f.pos, f.flags, f.shared])).toEqual([
      [1300, 0, 0, 'pipe', 'pipe:[5001]', null, 0, 1],
      [1300, 1, 0, 'reg', '/tmp/ckptdb/out.txt', 42, 1, 1],
      [1300, 2, 0, 'chr', '/dev/pts/0', 0, 2, 3],
      [1300, 3, 1, 'socket', 'socket:[6005]', null, 2, 1],
    ]);
    for (const f of rows) expect(Object.keys(f)).toEqual(expect.arrayContaining(['pid', 'fd', 'cloexec', 'type', 'path', 'pos', 'flags', 'file_id', 'shared']));
    const all = JSON.parse((await runCli(['fds', '--json'], { db })).stdout) as { file_id: number; pid: number; fd: number }[];
    expect(all).toHaveLength(29);
    // the tty is one open file: same file_id in the shell and in cat
    const tty = all.filter((f) => f.file_id === rows[2]!.file_id).map((f) => `${f.pid}:${f.fd}`);
    expect(tty).toEqual(['1000:1', '1000:2', '1300:2']);
  });

  it('objects lists shared objects with refcounts and holders', async () => {
    const r = await runCli(['objects', '--kind', 'socket', '--format', 'csv'], { db });
    expect(r.code).toBe(0);
    const rows = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((o) => [o.key, o.refcount, o.holders])).toEqual([
      ['socket:[6001]', '1', '1100:3 1200:3'],
      ['socket:[6002]', '1', '1200:6'],
      ['socket:[6003]', '1', '1200:7'],
      ['socket:[6004]', '1', '1200:8'],
      ['socket:[6005]', '1', '1300:3'],
    ]);
    const shared = JSON.parse((await runCli(['objects', '1', '--shared', '--kind', 'fdtable', '--json'], { db })).stdout) as Record<string, unknown>[];
    expect(shared.map((o) => [o.key, o.refcount, o.holders])).toEqual([['fdtable:server', 2, '1100/1100,1101']]);
  });

  it('q --list shows every canned query with its description and parameters', async () => {
    const r = await runCli(['q', '--list', '--json'], { db });
    const list = JSON.parse(r.stdout) as { name: string; description: string; params: string }[];
    expect(list.map((q) => q.name)).toContain('pipes');
    expect(list.find((q) => q.name === 'pipes')).toEqual({
      name: 'pipes', description: 'Pipes and FIFOs with both ends: who holds the read end and who the write end.', params: 'checkpoint=newest [pid] limit=100',
    });
    const run = await runCli(['q', 'fd_counts', '-p', 'limit=2', '--format', 'csv'], { db });
    expect(run.stdout).toBe('pid,comm,fds,threads,command\n1100,python3,10,3,python3 server.py --port 8080\n1200,python3,9,1,"python3 -c print(""a, b"")\nwork() --name=w,""1"""\n');
  });

  it('query - reads the statement from standard input', async () => {
    const r = await runCli(['query', '-', '--json', '-p', 'pid=1300'], { db, input: '-- which files cat holds\nSELECT fd, path\n  FROM open_fds\n WHERE pid = :pid AND fd < 2\n ORDER BY fd;\n' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ fd: 0, path: 'pipe:[5001]' }, { fd: 1, path: '/tmp/ckptdb/out.txt' }]);
  });

  it('show summarises a checkpoint', async () => {
    const d = JSON.parse((await runCli(['show', '1', '--json'], { db })).stdout) as Record<string, unknown>;
    expect(d).toMatchObject({ id: 1, source: 'proc', host: 'testhost', frozen: true, counts: { tasks: 7, processes: 5, fds: 29, files: 14 } });
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
