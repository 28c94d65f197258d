/**
 * A CRIU image directory made by CRIU's own encoder: the test writes each image as the
 * JSON `crit decode` prints, and `crit encode` turns it into the binary image. The
 * checkpoint: a server (pid 100, threads 101 and 102) with children 110 (worker), 120
 * (logger) and a zombie 140; 130 is a child of 110 sharing its fd table (CLONE_FILES).
 * Between them: a pipe 100 -> 110, a log file opened once and inherited by 120, a unix
 * socket pair 100 <-> 120, a listening unix socket, a listening TCP socket and an
 * established TCP connection, an IPv6 socket, an eventfd, memory maps (one at the
 * vsyscall address above 2^63) and pages files.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CRIT } from './criuTools.js';

const run = promisify(execFile);

/** JSON with bigints written as plain integers, as Python's json module reads them. */
export function criuJson(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `@@big${marks.push(v.toString()) - 1}@@` : v));
  return text.replace(/"@@big(\d+)@@"/g, (_m, i: string) => marks[Number(i)]!);
}

export type Image = { magic: string; entries: Record<string, unknown>[] };

export const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
export const skOpts = { so_sndbuf: 16384, so_rcvbuf: 131072, so_snd_tmo_sec: 0, so_snd_tmo_usec: 0, so_rcv_tmo_sec: 0, so_rcv_tmo_usec: 0 };

function regs(ip: bigint) {
  const names = ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'];
  const r: Record<string, unknown> = Object.fromEntries(names.map((n, i) => [n, i]));
  r.ip = ip;
  r.sp = 0x7ffd12345678n;
  return {
    clear_tid_addr: 0x7f0000001000n,
    gpregs: r,
    fpregs: { cwd: 0x37f, swd: 0, twd: 0, fop: 0, rip: 0, rdp: 0, mxcsr: 0x1f80, mxcsr_mask: 0xffff, st_space: [1, 2, 3], xmm_space: [4, 5, 6] },
  };
}

function siginfo(signo: number): string {
  const b = Buffer.alloc(128);
  b.writeInt32LE(signo, 0);
  return b.toString('base64');
}

const creds = (uid: number) => ({ uid, gid: uid, euid: uid, egid: uid, suid: uid, sgid: uid, fsuid: uid, fsgid: uid, cap_inh: [0, 0], cap_prm: [4294967295, 511], cap_eff: [4294967295, 511], cap_bnd: [4294967295, 511], secbits: 0, groups: [uid, 27] });

function threadCore(uid: number, comm: string | null, blk?: bigint) {
  return {
    futex_rla: 0x7f0000002000n, futex_rla_len: 24, sched_nice: 0, sched_policy: 0,
    ...(blk !== undefined ? { blk_sigset: blk } : {}),
    creds: creds(uid),
    ...(comm ? { comm } : {}),
  };
}

const INF = (1n << 64n) - 1n;
const rlimits = Array.from({ length: 16 }, (_, i) => (i === 7 ? { cur: 1024, max: 524288 } : i === 3 ? { cur: 8388608, max: INF } : { cur: INF, max: INF }));

export function leaderCore(comm: string, state: string | number, uid: number, extra: Record<string, unknown> = {}) {
  return {
    mtype: 'X86_64',
    thread_info: regs(0x401000n),
    tc: {
      task_state: state, exit_code: 0, personality: 0, flags: 0x400040, blk_sigset: 0x10000n, comm,
      rlimits: { rlimits }, loginuid: 1000, oom_score_adj: 0,
      // CRIU keeps 62 actions, SIGKILL and SIGSTOP left out: index 11 is SIGPIPE (ignored), 13 SIGTERM (caught)
      sigactions: Array.from({ length: 62 }, (_, i) => ({ sigaction: i === 11 ? 1 : i === 13 ? 0x401234 : 0, flags: 0x4000000, restorer: 0x7f0000003000n, mask: 0 })),
      ...extra,
    },
    thread_core: threadCore(uid, null),
  };
}

export const reg = (id: number, name: string, mode: number, flags = 0o100000, pos = 0) => ({ type: 'REG', id, reg: { id, flags, pos, fown, name, mnt_id: 22, size: 4096, mode } });
export const ids = (vm: number, files: number, fs: number, sighand: number) => ({
  vm_id: vm, files_id: files, fs_id: fs, sighand_id: sighand,
  pid_ns_id: 5, net_ns_id: 6, ipc_ns_id: 7, uts_ns_id: 8, mnt_ns_id: 9, user_ns_id: 10, cgroup_ns_id: 11,
});
export const fdi = (fd: number, id: number, type: string, flags = 0) => ({ id, flags, type, fd });

function vma(start: bigint, end: bigint, prot: number, flags: number, status: number, shmid = 0, pgoff = 0) {
  return { start, end, pgoff, shmid, prot, flags, status, fd: -1 };
}

/** Command lines and environments, NUL-separated, where the stack page holds them. */
export const ARGS: Record<number, { args: string[]; env: string[] }> = {
  100: { args: ['/usr/bin/server', '--port', '8080'], env: ['HOME=/srv/app', 'TOKEN=s3cret'] },
  110: { args: ['worker', '-n', '4'], env: ['HOME=/srv/app'] },
};
const ARGS_AT = 0x7ffd00020100n;
const block = (strings: string[]) => Buffer.from(strings.map((s) => `${s}\0`).join(''));

function mm(exe: number, vmas: ReturnType<typeof vma>[], pid?: number) {
  const a = pid ? block(ARGS[pid]!.args).length : 0x20;
  const e = pid ? block(ARGS[pid]!.env).length : 0xe0;
  const at = pid ? ARGS_AT : 0x7ffd00001000n;
  return {
    mm_start_code: 0x400000n, mm_end_code: 0x401000n, mm_start_data: 0x600000n, mm_end_data: 0x601000n,
    mm_start_stack: 0x7ffd00000000n, mm_start_brk: 0x602000n, mm_brk: 0x623000n,
    mm_arg_start: at, mm_arg_end: at + BigInt(a), mm_env_start: at + BigInt(a), mm_env_end: at + BigInt(a + e),
    exe_file_id: exe, mm_saved_auxv: [33, 140737354125312n, 16, 3219913727n], vmas, dumpable: 1,
  };
}

// VMA status bits and mmap flags.
const REGULAR = 1, STACK = 2, VSYSCALL = 4, VDSO = 8, HEAP = 32, FILE_PRIVATE = 64, ANON_PRIVATE = 512;
const MAP_PRIVATE = 2, MAP_ANON = 0x20;

export const FIXTURE_IMAGES: Record<string, Image> = {
  'inventory.img': { magic: 'INVENTORY', entries: [{ img_version: 2, fdinfo_per_id: true, root_ids: ids(1, 2, 3, 4), ns_per_id: true, root_cg_set: 1, lsmtype: 'NO_LSM', dump_uptime: 123456789, pre_dump_mode: 1, tcp_close: false, network_lock_method: 1 }] },
  'pstree.img': {
    magic: 'PSTREE',
    entries: [
      { pid: 100, ppid: 0, pgid: 100, sid: 100, threads: [100, 101, 102] },
      { pid: 110, ppid: 100, pgid: 100, sid: 100, threads: [110] },
      { pid: 120, ppid: 100, pgid: 120, sid: 100, threads: [120] },
      { pid: 130, ppid: 110, pgid: 100, sid: 100, threads: [130] },
      { pid: 140, ppid: 100, pgid: 100, sid: 100 },
    ],
  },
  'core-100.img': { magic: 'CORE', entries: [leaderCore('server', 'Alive', 1000, { signals_s: { signals: [{ siginfo: siginfo(10) }] } })] },
  'core-101.img': { magic: 'CORE', entries: [{ mtype: 'X86_64', thread_info: regs(0x402000n), thread_core: { ...threadCore(1000, 'server-io', 0x2n), signals_p: { signals: [{ siginfo: siginfo(12) }] } } }] },
  'core-102.img': { magic: 'CORE', entries: [{ mtype: 'X86_64', thread_info: regs(0x403000n), thread_core: threadCore(0, 'server-gc') }] },
  'core-110.img': { magic: 'CORE', entries: [leaderCore('worker', 'Alive', 1001)] },
  'core-120.img': { magic: 'CORE', entries: [leaderCore('logger', 3, 1002)] },
  'core-130.img': { magic: 'CORE', entries: [leaderCore('helper', 'Alive', 1001)] },
  'core-140.img': { magic: 'CORE', entries: [{ mtype: 'X86_64', tc: { task_state: 6, exit_code: 9, personality: 0, flags: 0, blk_sigset: 0, comm: 'reaped' } }] },
  'ids-100.img': { magic: 'IDS', entries: [ids(1, 2, 3, 4)] },
  'ids-110.img': { magic: 'IDS', entries: [ids(11, 12, 13, 14)] },
  'ids-120.img': { magic: 'IDS', entries: [ids(21, 22, 23, 24)] },
  'ids-130.img': { magic: 'IDS', entries: [ids(31, 12, 33, 34)] },
  'fs-100.img': { magic: 'FS', entries: [{ cwd_id: 2, root_id: 1, umask: 0o22 }] },
  'fs-110.img': { magic: 'FS', entries: [{ cwd_id: 2, root_id: 1, umask: 0o22 }] },
  'fs-120.img': { magic: 'FS', entries: [{ cwd_id: 7, root_id: 1, umask: 0o77 }] },
  'fs-130.img': { magic: 'FS', entries: [{ cwd_id: 2, root_id: 1, umask: 0 }] },
  'files.img': {
    magic: 'FILES',
    entries: [
      reg(1, '/', 0o40755, 0o200000),
      reg(2, '/srv/app', 0o40755, 0o200000),
      reg(3, '/usr/bin/server', 0o100755),
      reg(4, '/usr/bin/worker', 0o100755),
      reg(5, '/usr/lib/x86_64-linux-gnu/libc.so.6', 0o100644),
      reg(6, '/dev/null', 0o20666, 0o2),
      reg(7, '/var/log', 0o40755, 0o200000),
      { type: 'PIPE', id: 10, pipe: { id: 10, pipe_id: 5000, flags: 0o1, fown } },
      { type: 'PIPE', id: 11, pipe: { id: 11, pipe_id: 5000, flags: 0o4000, fown } },
      { ...reg(12, '/var/log/app.log', 0o100640, 0o102001, 1234), },
      { type: 'UNIXSK', id: 13, usk: { id: 13, ino: 7001, type: 'STREAM', state: 'ESTABLISHED', flags: 0o2, uflags: 0, backlog: 0, peer: 7002, fown, opts: skOpts, name: '' } },
      { type: 'UNIXSK', id: 14, usk: { id: 14, ino: 7002, type: 'STREAM', state: 'ESTABLISHED', flags: 0o2, uflags: 0, backlog: 0, peer: 7001, fown, opts: skOpts, name: '' } },
      { type: 'UNIXSK', id: 15, usk: { id: 15, ino: 7003, type: 'STREAM', state: 'LISTEN', flags: 0o2, uflags: 0, backlog: 128, peer: 0, fown, opts: skOpts, name: '/run/app.sock', file_perms: { mode: 0o140755, uid: 0, gid: 0 } } },
      { type: 'INETSK', id: 16, isk: { id: 16, ino: 8001, family: 'INET', type: 'STREAM', proto: 'TCP', state: 'LISTEN', src_port: 8080, dst_port: 0, flags: 0o4002, backlog: 128, src_addr: ['0.0.0.0'], dst_addr: ['0.0.0.0'], fown, opts: { ...skOpts, reuseaddr: true } } },
      { type: 'INETSK', id: 17, isk: { id: 17, ino: 8002, family: 'INET', type: 'STREAM', proto: 'TCP', state: 'ESTABLISHED', src_port: 45678, dst_port: 8080, flags: 0o2, backlog: 0, src_addr: ['127.0.0.1'], dst_addr: ['127.0.0.1'], fown, opts: skOpts } },
      { type: 'INETSK', id: 18, isk: { id: 18, ino: 8003, family: 'INET6', type: 'DGRAM', proto: 'UDP', state: 'CLOSE', src_port: 9090, dst_port: 0, flags: 0o2, backlog: 0, src_addr: ['fe80::1:2'], dst_addr: ['::'], fown, opts: skOpts, v6only: true } },
      { type: 'EVENTFD', id: 19, efd: { id: 19, flags: 0o4002, fown, counter: 7 } },
    ],
  },
  'fdinfo-2.img': { magic: 'FDINFO', entries: [fdi(0, 6, 'REG'), fdi(1, 12, 'REG'), fdi(4, 10, 'PIPE', 1), fdi(5, 12, 'REG'), fdi(6, 13, 'UNIXSK', 1), fdi(8, 15, 'UNIXSK'), fdi(9, 16, 'INETSK', 1), fdi(10, 19, 'EVENTFD', 1)] },
  'fdinfo-12.img': { magic: 'FDINFO', entries: [fdi(0, 6, 'REG'), fdi(3, 11, 'PIPE'), fdi(5, 17, 'INETSK')] },
  'fdinfo-22.img': { magic: 'FDINFO', entries: [fdi(0, 6, 'REG'), fdi(3, 14, 'UNIXSK'), fdi(4, 18, 'INETSK'), fdi(7, 12, 'REG')] },
  'mm-100.img': {
    magic: 'MM',
    entries: [mm(3, [
      vma(0x400000n, 0x401000n, 5, MAP_PRIVATE, REGULAR | FILE_PRIVATE, 3),
      vma(0x602000n, 0x623000n, 3, MAP_PRIVATE | MAP_ANON, REGULAR | HEAP | ANON_PRIVATE),
      vma(0x7f0000000000n, 0x7f0000022000n, 5, MAP_PRIVATE, REGULAR | FILE_PRIVATE, 5, 0x1000),
      vma(0x7ffd00000000n, 0x7ffd00021000n, 3, MAP_PRIVATE | MAP_ANON | 0x100, REGULAR | STACK | ANON_PRIVATE),
      vma(0x7ffd00100000n, 0x7ffd00102000n, 5, MAP_PRIVATE | MAP_ANON, REGULAR | VDSO | ANON_PRIVATE),
      vma(0xffffffffff600000n, 0xffffffffff601000n, 4, MAP_PRIVATE | MAP_ANON, VSYSCALL),
    ], 100)],
  },
  'mm-110.img': { magic: 'MM', entries: [mm(4, [vma(0x400000n, 0x401000n, 5, MAP_PRIVATE, REGULAR | FILE_PRIVATE, 4), vma(0x7ffd00000000n, 0x7ffd00021000n, 3, MAP_PRIVATE | MAP_ANON, REGULAR | STACK | ANON_PRIVATE)], 110)] },
  'mm-120.img': { magic: 'MM', entries: [mm(3, [vma(0x400000n, 0x401000n, 5, MAP_PRIVATE, REGULAR | FILE_PRIVATE, 3)])] },
  'mm-130.img': { magic: 'MM', entries: [mm(4, [vma(0x400000n, 0x401000n, 5, MAP_PRIVATE, REGULAR | FILE_PRIVATE, 4)])] },
  'pagemap-100.img': { magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 0x602000, nr_pages: 2, flags: 4 }, { vaddr: 0x7ffd00020000n, nr_pages: 1, flags: 4 }] },
  'pagemap-110.img': { magic: 'PAGEMAP', entries: [{ pages_id: 2 }, { vaddr: 0x7ffd00020000n, nr_pages: 1, flags: 4 }] },
  'pipes-data.img': { magic: 'PIPES_DATA', entries: [{ pipe_id: 5000, bytes: 6, size: 65536, extra: Buffer.from('hello\n').toString('base64') }] },
  'tcp-stream-1f42.img': { magic: 'TCP_STREAM', entries: [{ inq_len: 3, inq_seq: 100, outq_len: 2, outq_seq: 200, opt_mask: 0, snd_wscale: 7, mss_clamp: 65495, extra: { inq: Buffer.from('abc').toString('base64'), outq: Buffer.from('de').toString('base64') } }] },
  'stats-dump': { magic: 'STATS', entries: [{ dump: { freezing_time: 10, frozen_time: 20, memdump_time: 30, memwrite_time: 40, pages_scanned: 100, pages_skipped_parent: 0, pages_written: 3, pages_lazy: 0 } }] },
};

/** pages-N.img: raw page contents, as many 4 KiB pages as the pagemap lists; the stack page holds the arguments. */
export function fixturePages(): Record<string, Buffer> {
  const page = (fill: number) => Buffer.alloc(4096, fill);
  const stack = (pid: number) => {
    const p = page(0);
    Buffer.concat([block(ARGS[pid]!.args), block(ARGS[pid]!.env)]).copy(p, Number(ARGS_AT % 4096n));
    return p;
  };
  return { 'pages-1.img': Buffer.concat([page(1), page(2), stack(100)]), 'pages-2.img': stack(110) };
}

/** crit's path; the tests that use it skip without one (criuTools.ts). */
function crit(): string {
  if (!CRIT.path) throw new Error(CRIT.missing!);
  return CRIT.path;
}

/** Runs `crit encode` for each image; two at a time, the machine has two cores. */
export async function writeImages(dir: string, images: Record<string, Image>): Promise<void> {
  const names = Object.keys(images);
  const next = async (): Promise<void> => {
    const name = names.shift();
    if (!name) return;
    const json = join(dir, `${name}.json`);
    writeFileSync(json, criuJson(images[name]));
    await run(crit(), ['encode', '-i', json, '-o', join(dir, name)]);
    rmSync(json);
    await next();
  };
  await Promise.all([next(), next()]);
}

export async function buildFixture(dir: string): Promise<void> {
  await writeImages(dir, FIXTURE_IMAGES);
  for (const [name, bytes] of Object.entries(fixturePages())) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, 'dump.log'), 'criu dump log\n');
}

/**
 * The fixture without the zombie 140: `crit x DIR fds` stops at a task without an ids
 * image, which a zombie is.
 */
export async function buildFixtureWithoutZombie(dir: string): Promise<void> {
  await buildFixture(dir);
  rmSync(join(dir, 'core-140.img'));
  const tree = structuredClone(FIXTURE_IMAGES['pstree.img']!);
  tree.entries = tree.entries.filter((e) => e.pid !== 140);
  await writeImages(dir, { 'pstree.img': tree });
}

/** `crit decode` of one image, as text: what two images must agree on. */
export async function critDecode(path: string): Promise<string> {
  return (await run(crit(), ['decode', '-i', path], { maxBuffer: 1 << 28 })).stdout;
}

export async function critX(dir: string, what: 'ps' | 'fds' | 'mems'): Promise<string> {
  return (await run(crit(), ['x', dir, what], { maxBuffer: 1 << 28 })).stdout;
}

