/**
 * Unix sockets as the kernel's sock_diag reports them (NETLINK_SOCK_DIAG, a
 * SOCK_DIAG_BY_FAMILY dump of AF_UNIX: what `ss -x` and CRIU read): type, sk_state,
 * address and, which /proc/net/unix does not show, the peer.
 */
import { attributes, NetlinkSocket } from './netlink.js';

const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const AF_UNIX = 1;
const ALL_STATES = 0xffffffff;
const UDIAG_SHOW_NAME = 0x1;
const UDIAG_SHOW_PEER = 0x4;
const UNIX_DIAG_NAME = 0;
const UNIX_DIAG_PEER = 2;
/** struct unix_diag_msg: family, type, state, pad (u8 each), inode, cookie[2] (u32 each). */
const MSG_SIZE = 16;

export interface UnixSocketDiag {
  ino: number;
  /** SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET. */
  type: number;
  /** sk_state: TCP_ESTABLISHED, TCP_LISTEN, TCP_CLOSE, ... */
  state: number;
  /** sun_path as the kernel keeps it; null when unbound. */
  name: Uint8Array | null;
  /** The inode of the socket it is connected to, or null. */
  peer: number | null;
}

/** struct unix_diag_req: every state, name and peer shown. */
function request(): Buffer {
  const req = Buffer.alloc(24);
  req.writeUInt8(AF_UNIX, 0);
  req.writeUInt32LE(ALL_STATES, 4);
  req.writeUInt32LE(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER, 12);
  return req;
}

function parse(payload: DataView): UnixSocketDiag {
  const d: UnixSocketDiag = { ino: payload.getUint32(4, true), type: payload.getUint8(1), state: payload.getUint8(2), name: null, peer: null };
  for (const a of attributes(payload, MSG_SIZE)) {
    if (a.type === UNIX_DIAG_NAME) d.name = new Uint8Array(a.value.buffer.slice(a.value.byteOffset, a.value.byteOffset + a.value.byteLength));
    else if (a.type === UNIX_DIAG_PEER && a.value.byteLength >= 4) d.peer = a.value.getUint32(0, true) || null;
  }
  return d;
}

/**
 * The unix sockets of one network namespace (netns: a /proc/PID/ns/net path; this
 * thread's own when omitted) whose inode wanted accepts. Throws NetlinkError when
 * the kernel cannot be asked (no permission to enter the namespace, no sock_diag).
 */
export function dumpUnixSockets(wanted: (ino: number) => boolean, netns?: string): UnixSocketDiag[] {
  const socket = NetlinkSocket.open(NETLINK_SOCK_DIAG, netns);
  try {
    const found: UnixSocketDiag[] = [];
    for (const m of socket.dump(SOCK_DIAG_BY_FAMILY, request())) {
      if (m.type !== SOCK_DIAG_BY_FAMILY || m.payload.byteLength < MSG_SIZE) continue;
      if (wanted(m.payload.getUint32(4, true))) found.push(parse(m.payload));
    }
    return found;
  } finally {
    socket.close();
  }
}
