/**
 * Sockets as the kernel shows them in /proc/PID/net/*, which are the tables of that
 * task's network namespace: family, type, protocol, state and addresses, by inode.
 * Unix sockets are read here only when sock_diag cannot be asked (unixDiag.ts):
 * /proc/net/unix does not show peers.
 */
import type { SocketInput } from '../../store/writer/types.js';
import {
  ipProtocolName, netlinkProtocolName, packetProtocolText, socketStateName, socketTypeName, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN,
} from '../../store/socketNames.js';
import { endpoint } from './inetAddress.js';
import { ProcReadError, readText } from './procfs.js';

export type SocketDetails = Omit<SocketInput, 'object'>;

/**
 * The St column of /proc/net/unix is not sk_state but the socket's SS_* state, which
 * the kernel derives from it: SS_CONNECTED (3), or SS_CONNECTING (2) for a connection
 * not yet accepted, when sk_state is TCP_ESTABLISHED; else SS_UNCONNECTED (1) or
 * SS_DISCONNECTING (4). A listener has __SO_ACCEPTCON in its Flags.
 */
const UNIX_ST_ESTABLISHED = new Set([2, 3]);
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
function rows(tid: number, file: string, encoding: 'latin1' | 'utf8' = 'latin1'): string[][] {
  let text: string;
  try {
    text = readText(`/proc/${tid}/net/${file}`, encoding);
  } catch (e) {
    if (e instanceof ProcReadError && e.failure === 'gone') return [];
    throw e;
  }
  return text.split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
}

/**
 * Details of the inet, netlink and packet sockets with the wanted inodes, from the
 * tables of the network namespace that task tid is in. Socket inode numbers are unique
 * on the machine, so results from several namespaces merge into one map.
 */
export function readSocketTables(tid: number, wanted: Set<string>, into: Map<string, SocketDetails>): void {
  for (const t of INET_TABLES) {
    for (const f of rows(tid, t.file)) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
      const ino = f[9]!;
      if (!wanted.has(ino) || into.has(ino)) continue;
      const local = endpoint(f[1]!, t.v6);
      const remote = endpoint(f[2]!, t.v6);
      into.set(ino, {
        family: t.v6 ? 'inet6' : 'inet',
        type: t.type,
        protocol: t.protocol ?? ipProtocolName(local.port),
        state: socketStateName(parseInt(f[3]!, 16)),
        localAddr: local.addr,
        localPort: t.protocol === null ? null : local.port,
        remoteAddr: remote.addr,
        remotePort: t.protocol === null ? null : remote.port,
        attrs: { uid: Number(f[7]) },
      });
    }
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
      protocol: netlinkProtocolName(proto),
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
      type: socketTypeName(Number(f[2])),
      protocol: packetProtocolText(parseInt(f[3]!, 16)),
      attrs: { ifindex: Number(f[4]), uid: Number(f[7]) },
    });
  }
}

/**
 * Details of the unix sockets with the wanted inodes from /proc/PID/net/unix, which
 * shows no peers: each is marked { peer: 'unknown' }, so that a null peer_ino is not
 * read as "no peer".
 */
export function readUnixTable(tid: number, wanted: Set<string>, into: Map<string, SocketDetails>): void {
  // utf8: the paths are names
  for (const f of rows(tid, 'unix', 'utf8')) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    const ino = f[6]!;
    if (!wanted.has(ino) || into.has(ino)) continue;
    const listening = (parseInt(f[3]!, 16) & SO_ACCEPTCON) !== 0;
    const st = parseInt(f[5]!, 16);
    into.set(ino, {
      family: 'unix',
      type: socketTypeName(parseInt(f[4]!, 16)),
      protocol: null,
      state: socketStateName(listening ? TCP_LISTEN : UNIX_ST_ESTABLISHED.has(st) ? TCP_ESTABLISHED : TCP_CLOSE),
      localAddr: f.length > 7 ? f.slice(7).join(' ') : null,
      attrs: { peer: 'unknown' },
    });
  }
}
