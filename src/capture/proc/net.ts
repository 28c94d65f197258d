/**
 * Sockets as the kernel shows them in /proc/PID/net/*, which are the tables of that
 * task's network namespace: family, type, protocol, state and addresses, by inode.
 */
import type { SocketInput } from '../types.js';
import { endpoint } from './inetAddress.js';
import { ProcReadError, readText } from './procfs.js';

export type SocketDetails = Omit<SocketInput, 'object'>;

const TCP_STATES = [
  '', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];

const IP_PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite', 255: 'raw' };

const NETLINK_PROTOCOLS: Record<number, string> = {
  0: 'route', 2: 'usersock', 3: 'firewall', 4: 'sock_diag', 5: 'nflog', 6: 'xfrm', 7: 'selinux', 8: 'iscsi',
  9: 'audit', 10: 'fib_lookup', 11: 'connector', 12: 'netfilter', 13: 'ip6_fw', 14: 'dnrtmsg',
  15: 'kobject_uevent', 16: 'generic', 18: 'scsitransport', 19: 'ecryptfs', 20: 'rdma', 21: 'crypto', 22: 'smc',
};

const SOCK_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket', 6: 'dccp', 10: 'packet' };

const UNIX_STATES = ['', 'UNCONNECTED', 'CONNECTING', 'CONNECTED', 'DISCONNECTING'];
/** __SO_ACCEPTCON in the Flags column of /proc/net/unix: a listening socket. */
const SO_ACCEPTCON = 0x10000;

interface InetTable {
  file: string;
  v6: boolean;
  type: string;
  /** null: the protocol number is in the local port column (raw sockets). */
  protocol: string | null;
}

const INET_TABLES: InetTable[] = [
  { file: 'tcp', v6: false, type: 'stream', protocol: 'tcp' },
  { file: 'tcp6', v6: true, type: 'stream', protocol: 'tcp' },
  { file: 'udp', v6: false, type: 'dgram', protocol: 'udp' },
  { file: 'udp6', v6: true, type: 'dgram', protocol: 'udp' },
  { file: 'udplite', v6: false, type: 'dgram', protocol: 'udplite' },
  { file: 'udplite6', v6: true, type: 'dgram', protocol: 'udplite' },
  { file: 'raw', v6: false, type: 'raw', protocol: null },
  { file: 'raw6', v6: true, type: 'raw', protocol: null },
  { file: 'icmp', v6: false, type: 'dgram', protocol: 'icmp' },
  { file: 'icmp6', v6: true, type: 'dgram', protocol: 'ipv6-icmp' },
];

/** A table's lines after the header, or none when this kernel has no such table. */
function rows(tid: number, file: string): string[][] {
  let text: string;
  try {
    text = readText(`/proc/${tid}/net/${file}`);
  } catch (e) {
    if (e instanceof ProcReadError && e.failure === 'gone') return [];
    throw e;
  }
  return text.split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
}

/**
 * Details of the sockets with the wanted inodes, from the tables of the network
 * namespace that task tid is in. Socket inode numbers are unique on the machine, so
 * results from several namespaces merge into one map.
 */
export function readSocketTables(tid: number, wanted: Set<string>, into: Map<string, SocketDetails>): void {
  for (const t of INET_TABLES) {
    for (const f of rows(tid, t.file)) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
      const ino = f[9]!;
      if (!wanted.has(ino) || into.has(ino)) continue;
      const local = endpoint(f[1]!, t.v6);
      const remote = endpoint(f[2]!, t.v6);
      const st = parseInt(f[3]!, 16);
      const connectionless = t.type !== 'stream';
      into.set(ino, {
        family: t.v6 ? 'inet6' : 'inet',
        type: t.type,
        protocol: t.protocol ?? IP_PROTOCOLS[local.port] ?? String(local.port),
        // UDP, raw and ping sockets use TCP_ESTABLISHED / TCP_CLOSE for connected / not
        state: connectionless ? (st === 1 ? 'CONNECTED' : 'UNCONNECTED') : (TCP_STATES[st] ?? String(st)),
        localAddr: local.addr,
        localPort: t.protocol === null ? null : local.port,
        remoteAddr: remote.addr,
        remotePort: t.protocol === null ? null : remote.port,
        attrs: { uid: Number(f[7]) },
      });
    }
  }
  for (const f of rows(tid, 'unix')) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    const ino = f[6]!;
    if (!wanted.has(ino) || into.has(ino)) continue;
    const flags = parseInt(f[3]!, 16);
    const st = parseInt(f[5]!, 16);
    into.set(ino, {
      family: 'unix',
      type: SOCK_TYPES[parseInt(f[4]!, 16)] ?? f[4]!,
      protocol: null,
      state: flags & SO_ACCEPTCON ? 'LISTEN' : (UNIX_STATES[st] ?? String(st)),
      localAddr: f.length > 7 ? f.slice(7).join(' ') : null,
    });
  }
  for (const f of rows(tid, 'netlink')) {
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    const ino = f[9]!;
    if (!wanted.has(ino) || into.has(ino)) continue;
    const proto = Number(f[1]);
    into.set(ino, {
      family: 'netlink',
      // the table does not say whether it is SOCK_RAW or SOCK_DGRAM
      type: null,
      protocol: NETLINK_PROTOCOLS[proto] ?? String(proto),
      localPort: Number(f[2]),
      attrs: { groups: f[3] },
    });
  }
  for (const f of rows(tid, 'packet')) {
    // sk RefCnt Type Proto Iface R Rmem User Inode
    const ino = f[8]!;
    if (!wanted.has(ino) || into.has(ino)) continue;
    into.set(ino, {
      family: 'packet',
      type: SOCK_TYPES[Number(f[2])] ?? f[2]!,
      protocol: `0x${f[3]!.toLowerCase()}`,
      attrs: { ifindex: Number(f[4]), uid: Number(f[7]) },
    });
  }
}
