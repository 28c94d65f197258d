/**
 * The text forms (lsof's FD and TYPE, O_* names, ls -l modes, signal names, state
 * words) against the kernel's own truth, read here by other means: open flags from
 * /proc/PID/fdinfo decoded with the kernel's O_* values from its uapi header, modes as `stat -c %A` prints them, FD and TYPE as lsof prints them, signal
 * masks from /proc/PID/status named by bash's `kill -l`, states as /proc/PID/status
 * words them. The raw values stay in the JSON as they were.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { killGroup, startFixture } from './helpers/processes.js';

interface Info {
  pid: number;
  sleeping: number;
  stopped: number;
  zombie: number;
}

type FdRow = Record<string, unknown> & { fd: number; flags: number; mode: number };

/**
 * The kernel's O_* values by name, read from its uapi header (x86-64 includes the
 * generic one): the C library of a 64-bit program defines O_LARGEFILE as 0, the kernel
 * sets 0100000.
 */
function kernelOpenFlags(): Record<string, number> {
  const values: Record<string, number> = {};
  for (const m of readFileSync('/usr/include/asm-generic/fcntl.h', 'utf8').matchAll(/^#define\s+(_*O_[A-Z]+)\s+([^/\n]+)/gm)) {
    const parts = m[2]!.replace(/[()\s]/g, '').split('|');
    const value = parts.map((p) => (/^\d+$/.test(p) ? parseInt(p, 8) : values[p])).reduce<number | undefined>((a, b) => (a === undefined || b === undefined ? undefined : a | b), 0);
    if (value !== undefined) values[m[1]!] = value;
  }
  return Object.fromEntries(Object.entries(values).filter(([n, v]) => !n.startsWith('__') && v > 3 && n !== 'O_NDELAY'));
}

/** fdinfo's flags (octal) as a set of names, decoded here from the C library's values. */
function decodeFlags(flags: number, values: Record<string, number>): string[] {
  const set = Object.entries(values).filter(([, v]) => (flags & v) === v).map(([n]) => n);
  // a name whose bits are all inside another set name is that name's part, not a flag of its own
  const own = set.filter((n) => !set.some((m) => m !== n && (values[m]! & values[n]!) === values[n]! && values[m]! !== values[n]!));
  return [['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!, ...own].sort();
}

const fdinfoFlags = (pid: number, fd: number) => parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]!, 8);

/** bash's `kill -l N` for every signal number (without the SIG prefix, as bash prints it). */
function killNames(): Map<number, string> {
  const out = execFileSync('bash', ['-c', 'for n in $(seq 1 64); do echo "$n $(kill -l $n 2>/dev/null)"; done'], { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((l) => l.split(' ')).filter(([, name]) => name).map(([n, name]) => [Number(n), `SIG${name!}`]));
}

function maskNames(hex: string, names: Map<number, string>): string {
  const bits = BigInt(`0x${hex}`);
  const out: string[] = [];
  for (let n = 1; n <= 64; n++) if ((bits >> BigInt(n - 1)) & 1n) out.push(names.get(n)!);
  return out.join(',');
}

/** lsof's FD (number and access) and TYPE of every fd of a process. */
function lsofFds(pid: number): Map<number, { fd: string; type: string }> {
  const out = execFileSync('lsof', ['-n', '-P', '-a', '-p', String(pid), '-d', '0-9999', '-F', 'fat'], { encoding: 'utf8' });
  const fds = new Map<number, { fd: string; type: string }>();
  let fd = -1;
  let access = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('f')) fd = Number(line.slice(1));
    else if (line.startsWith('a')) access = line.slice(1).trim();
    else if (line.startsWith('t')) fds.set(fd, { fd: `${fd}${access}`, type: line.slice(1) });
  }
  return fds;
}

/** What the kernel said of the fixture while it ran, and what ckptdb printed of its capture. */
interface Observed {
  db: string;
  info: Info;
  rows: FdRow[];
  fdinfo: Map<number, number>;
  stat: string[];
  lsof: Map<number, { fd: string; type: string }>;
  status: string;
  states: Map<number, string[]>;
}

describe('text forms against the kernel', () => {
  let o: Observed;
  let dir: string;

  // The fixture is read and captured once, then ended: the tests compare what was observed.
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckptdb-text-'));
    const { child, info } = await startFixture<Info>('text-forms.py', [dir]);
    try {
      const db = join(dir, 'store.sqlite');
      const r = await runCli(['capture', String(info.pid), '--tree'], { db });
      expect(r.code, r.stderr).toBe(0);
      const rows = JSON.parse((await runCli(['fds', '--pid', String(info.pid), '--json'], { db })).stdout) as FdRow[];
      const fds = readdirSync(`/proc/${info.pid}/fd`).map(Number).sort((a, b) => a - b);
      expect(rows.map((x) => x.fd)).toEqual(fds);
      const fdinfo = new Map(fds.map((fd) => [fd, fdinfoFlags(info.pid, fd)]));
      const stat = execFileSync('stat', ['-L', '-c', '%A %f', ...fds.map((fd) => `/proc/${info.pid}/fd/${fd}`)], { encoding: 'utf8' }).trim().split('\n');
      const states = new Map([info.pid, info.sleeping, info.stopped, info.zombie].map((pid) => [pid, /^State:\s+(\S) \((.+)\)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))!.slice(1, 3)]));
      o = { db, info, rows, fdinfo, stat, lsof: lsofFds(info.pid), status: readFileSync(`/proc/${info.pid}/status`, 'utf8'), states };
    } finally {
      await killGroup(child);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names open flags as fdinfo holds them, and keeps the raw flags', () => {
    const values = kernelOpenFlags();
    let seen = new Set<string>();
    for (const r of o.rows) {
      const kernel = o.fdinfo.get(r.fd)!;
      const cloexec = (kernel & values.O_CLOEXEC!) !== 0;
      expect([r.fd, r.flags, r.cloexec]).toEqual([r.fd, kernel & ~values.O_CLOEXEC!, cloexec ? 1 : 0]);
      const names = decodeFlags(kernel, values).filter((n) => n !== 'O_CLOEXEC');
      expect([r.fd, String(r.flags_text).split('|').sort()]).toEqual([r.fd, names]);
      seen = new Set([...seen, ...names]);
    }
    // the fixture opened each of these somewhere: none may go unnamed (the kernel keeps
    // none of O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC after the open)
    for (const name of ['O_APPEND', 'O_NONBLOCK', 'O_SYNC', 'O_DSYNC', 'O_NOATIME', 'O_DIRECTORY', 'O_NOFOLLOW', 'O_PATH', 'O_TMPFILE', 'O_LARGEFILE', 'O_RDWR', 'O_WRONLY']) {
      expect(seen).toContain(name);
    }
  });

  it('prints modes as stat -c %A does, and keeps the raw st_mode', () => {
    expect(o.rows.map((r) => `${String(r.mode_text)} ${r.mode.toString(16)}`)).toEqual(o.stat);
    expect(new Set(o.rows.map((r) => String(r.mode_text)[0]))).toEqual(new Set(['-', 'd', 'c', 'p', 's', '?']));
    expect(o.rows.map((r) => r.mode_text)).toEqual(expect.arrayContaining(['drwxrwxrwt', '-rwsr-xr--', '-rw-r-Sr--']));
  });

  it('gives FD and TYPE as lsof prints them', () => {
    expect(o.rows.map((r) => [r.fd_text, r.type_text])).toEqual(o.rows.map((r) => [o.lsof.get(r.fd)!.fd, o.lsof.get(r.fd)!.type]));
    expect(new Set(o.rows.map((r) => r.type_text))).toEqual(new Set(['REG', 'DIR', 'CHR', 'FIFO', 'a_inode', 'unix', 'IPv4', 'IPv6']));
  });

  it('shows FD, TYPE, flags and mode as text in the table, and adds the text fields to CSV', async () => {
    const table = (await runCli(['fds', '--pid', String(o.info.pid)], { db: o.db })).stdout.split('\n');
    expect(table[0]).toMatch(/^\s*pid\s+tid\s+comm\s+FD\s+cloexec\s+TYPE\s+path\s+pos\s+flags\s+mode\s/);
    const sticky = table.find((l) => l.includes('/sticky'))!;
    expect(sticky).toMatch(/\s\d+r\s+\d\s+DIR\s+\S+\/sticky\s+0\s+O_RDONLY\|O_LARGEFILE\|O_DIRECTORY\s+drwxrwxrwt\s/);
    const csv = (await runCli(['fds', '--pid', String(o.info.pid), '--format', 'csv'], { db: o.db })).stdout.split('\n')[0];
    expect(csv).toBe('pid,tid,comm,fd,fd_text,cloexec,type,type_text,path,pos,flags,flags_text,mode,mode_text,deleted,file_id,shared,object_kind,object_key');
  });

  it('has the same text forms as SQL functions on ckptdb connections', async () => {
    const sql = `SELECT fd, fd_text(fd, flags) AS fd_text, type_text(type, mode, (SELECT family FROM sockets s WHERE s.object_id = o.object_id)) AS type_text,
                        flags_text(flags) AS flags_text, mode_text(mode) AS mode_text
                 FROM open_fds o WHERE checkpoint_id = (SELECT max(id) FROM checkpoints) AND pid = :pid ORDER BY fd`;
    const r = await runCli(['query', sql, '-p', `pid=${o.info.pid}`, '--json'], { db: o.db });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(o.rows.map((x) => ({ fd: x.fd, fd_text: x.fd_text, type_text: x.type_text, flags_text: x.flags_text, mode_text: x.mode_text })));
  });

  it('names the signals of every mask as kill -l does', async () => {
    const names = killNames();
    const sql = `SELECT pid, sig_pending, signals_text(sig_pending) AS pending, sig_blocked, signals_text(sig_blocked) AS blocked,
                        sig_ignored, signals_text(sig_ignored) AS ignored, sig_caught, signals_text(sig_caught) AS caught
                 FROM tasks WHERE checkpoint_id = (SELECT max(id) FROM checkpoints) AND pid = :pid`;
    const [t] = JSON.parse((await runCli(['query', sql, '-p', `pid=${o.info.pid}`, '--json'], { db: o.db })).stdout) as Record<string, string>[];
    const field = (name: string) => new RegExp(`^${name}:\\s+([0-9a-f]+)$`, 'm').exec(o.status)![1]!;
    expect([t!.sig_pending, t!.sig_blocked, t!.sig_ignored, t!.sig_caught]).toEqual([field('SigPnd'), field('SigBlk'), field('SigIgn'), field('SigCgt')]);
    expect(t!.pending).toBe(maskNames(field('SigPnd'), names));
    expect(t!.blocked).toBe(maskNames(field('SigBlk'), names));
    expect(t!.ignored).toBe(maskNames(field('SigIgn'), names));
    expect(t!.caught).toBe(maskNames(field('SigCgt'), names));
    expect(t!.blocked).toBe('SIGUSR1,SIGWINCH,SIGRTMIN+3,SIGRTMAX');
    expect(t!.ignored.split(',')).toEqual(expect.arrayContaining(['SIGHUP', 'SIGPIPE']));
    expect(t!.caught.split(',')).toEqual(expect.arrayContaining(['SIGUSR2', 'SIGTERM', 'SIGRTMIN']));
  });

  it('words states as /proc/PID/status does, in ps and show', async () => {
    const tree = JSON.parse((await runCli(['ps', '--json'], { db: o.db })).stdout) as { pid: number; state: string; state_text: string }[];
    expect(tree.map((p) => [p.pid, p.state, p.state_text])).toEqual(tree.map((p) => [p.pid, ...o.states.get(p.pid)!]));
    expect(tree.map((p) => p.state_text).sort()).toEqual(['sleeping', 'sleeping', 'stopped', 'zombie']);
    const show = (await runCli(['show'], { db: o.db })).stdout;
    expect(show).toMatch(/^task states\s+2 sleeping, 1 stopped, 1 zombie$/m);
  });

  it('leaves every table and view readable to a plain sqlite3 shell', () => {
    const names = execFileSync('sqlite3', [o.db, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['fds', 'files', 'open_fds', 'tasks', 'processes']));
    const counts = execFileSync('sqlite3', [o.db, names.map((n) => `SELECT '${n}', count(*) FROM "${n}";`).join('\n')], { encoding: 'utf8' });
    expect(counts.trim().split('\n')).toHaveLength(names.length);
  });
});
