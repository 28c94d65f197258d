/**
 * test/fixtures/unix-sockets.py (its docstring describes the shape), what a capture of
 * it must record, and `ss -x`, the kernel's own account of the same sockets through
 * another tool, to hold the store against.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFixture } from './processes.js';

const run = promisify(execFile);

/** Fd numbers and inode numbers, by the names the fixture's docstring uses. */
export interface Held {
  fds: Record<string, number>;
  inodes: Record<string, number>;
}

export interface UnixSocketsTree {
  p: number;
  c: number;
  /** The child in a network namespace of its own (started with --netns). */
  n: number | null;
  procs: { p: Held; c: Held; n?: Held & { port: number; netns: string } };
  dir: string;
  server_path: string;
  fifo_path: string;
  link_path: string;
  /** The abstract name P's datagram server is bound to, byte by byte. */
  abstract: number[];
  fifo: { dev: string; ino: number; mnt_id: number };
  /** P's (and C's) network namespace. */
  netns: string;
}

export async function startUnixSockets(dir: string, opts: { netns: boolean }): Promise<UnixSocketsTree> {
  return (await startFixture<UnixSocketsTree>('unix-sockets.py', [dir, ...(opts.netns ? ['--netns'] : [])])).info;
}

/** A unix socket as the sockets table must hold it, with the process and fd holding it. */
export interface ExpectedUnixSocket {
  pid: number;
  fd: number;
  name: string;
  sock_type: string;
  /** null where the kernel's version decides (a datagram socket's state once connected): ss tells. */
  state: string | null;
  local_addr: string | null;
  peer_ino: number | null;
}

/** Every unix socket of the tree, by inode. */
export function expectedUnixSockets(t: UnixSocketsTree): Map<number, ExpectedUnixSocket> {
  const { p, c, n } = t.procs;
  const abstract = `@${Buffer.from(t.abstract.slice(1)).toString('utf8').replaceAll('\0', '@')}`;
  const out = new Map<number, ExpectedUnixSocket>();
  const add = (pid: number, held: Held, name: string, sock_type: string, state: string | null, local_addr: string | null, peer: number | null) =>
    out.set(held.inodes[name]!, { pid, fd: held.fds[name]!, name, sock_type, state, local_addr, peer_ino: peer });
  add(t.p, p, 'listener', 'stream', 'LISTEN', t.server_path, null);
  // an accepted socket shares the name of the socket it was accepted on
  add(t.p, p, 'accepted', 'stream', 'ESTABLISHED', t.server_path, c.inodes.client!);
  add(t.p, p, 'server', 'dgram', null, abstract, null);
  add(t.p, p, 'pair_a', 'stream', 'ESTABLISHED', null, p.inodes.pair_b!);
  add(t.p, p, 'pair_b', 'stream', 'ESTABLISHED', null, p.inodes.pair_a!);
  add(t.p, p, 'seq_a', 'seqpacket', 'ESTABLISHED', null, p.inodes.seq_b!);
  add(t.p, p, 'seq_b', 'seqpacket', 'ESTABLISHED', null, p.inodes.seq_a!);
  add(t.p, p, 'unbound', 'dgram', 'UNCONNECTED', null, null);
  add(t.c, c, 'client', 'stream', 'ESTABLISHED', null, p.inodes.accepted!);
  // its peer is a socket nobody has accepted yet, which has no inode
  add(t.c, c, 'pending', 'stream', 'ESTABLISHED', null, null);
  add(t.c, c, 'dgram', 'dgram', null, null, p.inodes.server!);
  if (n && t.n) {
    add(t.n, n, 'pair_a', 'stream', 'ESTABLISHED', null, n.inodes.pair_b!);
    add(t.n, n, 'pair_b', 'stream', 'ESTABLISHED', null, n.inodes.pair_a!);
  }
  return out;
}

/** A unix socket as `ss -x` reports it, in the store's words. */
export interface SsUnixSocket {
  sock_type: string;
  state: string;
  local_addr: string | null;
  peer_ino: number | null;
}

const SS_TYPES: Record<string, string> = { u_str: 'stream', u_dgr: 'dgram', u_seq: 'seqpacket' };
const SS_STATES: Record<string, string> = { ESTAB: 'ESTABLISHED', UNCONN: 'UNCONNECTED' };

/**
 * Every unix socket of a network namespace as `ss -xa` lists it, by inode: of this
 * process's namespace, or (nsenter) of the one task pid is in.
 */
export async function ssUnixSockets(pid?: number): Promise<Map<number, SsUnixSocket>> {
  const ss = ['ss', '-xaH'];
  const command = pid ? ['nsenter', `--net=/proc/${pid}/ns/net`, ...ss] : ss;
  const { stdout } = await run(command[0]!, command.slice(1), { maxBuffer: 1 << 28 });
  const out = new Map<number, SsUnixSocket>();
  for (const line of stdout.split('\n')) {
    // Netid State Recv-Q Send-Q Local-Address Port Peer-Address Port
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !SS_TYPES[f[0]!]) continue;
    out.set(Number(f[5]), {
      sock_type: SS_TYPES[f[0]!]!,
      state: SS_STATES[f[1]!] ?? f[1]!.replaceAll('-', '_'),
      local_addr: f[4] === '*' ? null : f[4]!,
      peer_ino: f[7] === '*' || f[7] === '0' ? null : Number(f[7]),
    });
  }
  return out;
}
