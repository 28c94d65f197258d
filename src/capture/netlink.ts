/**
 * Netlink dumps from Node, which has no netlink sockets: socket(2), sendto(2) and
 * recv(2) from libc through koffi, replies parsed with DataView.
 *
 * A netlink socket answers for the network namespace it was created in, whichever
 * thread uses it later. To ask about another namespace, the calling thread enters it
 * with setns(2) just for the socket(2) call and goes back at once: setns changes the
 * namespace of the calling thread only, Node runs JavaScript on this one thread, and
 * nothing else runs on it between the two calls.
 */
import { closeSync, openSync, readlinkSync } from 'node:fs';
import koffi from 'koffi';
import { errnoName } from '../errno.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const CLONE_NEWNET = 0x40000000;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_HDRLEN = 16;
/** Netlink messages and their attributes are padded to 4 bytes. */
const align = (n: number) => (n + 3) & ~3;

/** Larger than any message the kernel puts in one dump reply (32 KiB), so none is cut short. */
const RECV_BUFFER = 64 * 1024;
/** A dump the kernel has not answered in this long is given up rather than waited on forever. */
const RECV_TIMEOUT_S = 10;


/** A netlink call that failed: what was being done and why (an errno's name: EPERM, ENOENT, ...). */
export class NetlinkError extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
  }
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  setns(fd: number, nstype: number): number;
}

let libc: Libc | null = null;

function bind(): Libc {
  if (libc) return libc;
  const lib = koffi.load(null);
  libc = {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    sendto: lib.func('long sendto(int, const uint8_t *, unsigned long, int, const uint8_t *, unsigned int)') as Libc['sendto'],
    recv: lib.func('long recv(int, _Out_ uint8_t *, unsigned long, int)') as Libc['recv'],
    setsockopt: lib.func('int setsockopt(int, int, int, const uint8_t *, unsigned int)') as Libc['setsockopt'],
    setns: lib.func('int setns(int, int)') as Libc['setns'],
  };
  return libc;
}

function check(step: string, r: number): number {
  if (r < 0) throw new NetlinkError(step, errnoName(koffi.errno()));
  return r;
}

/** One message of a dump: its type and its payload (after the netlink header). */
export interface NetlinkMessage {
  type: number;
  payload: DataView;
}

export class NetlinkSocket {
  private seq = 0;
  private closed = false;
  private readonly c = bind();

  private constructor(private readonly fd: number) {}

  /**
   * A socket of the given netlink protocol in the network namespace that netns names
   * (a /proc/PID/ns/net path), or in this thread's own when it is omitted.
   */
  static open(protocol: number, netns?: string): NetlinkSocket {
    const c = bind();
    const fd = netns && !sameNamespace(netns) ? socketIn(c, protocol, netns) : check('socket', c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
    const s = new NetlinkSocket(fd);
    try {
      const timeout = Buffer.alloc(16);
      timeout.writeBigInt64LE(BigInt(RECV_TIMEOUT_S), 0);
      check('setsockopt', c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, timeout.length));
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /**
   * Sends one dump request (its payload after the netlink header) and yields every
   * reply until the kernel says it is done; an error reply throws NetlinkError. A
   * reply's payload lies in the receive buffer: it is valid until the next is asked for.
   */
  *dump(type: number, request: Buffer): Generator<NetlinkMessage> {
    const seq = ++this.seq;
    const msg = Buffer.alloc(NLMSG_HDRLEN + request.length);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    msg.writeUInt32LE(seq, 8);
    request.copy(msg, NLMSG_HDRLEN);
    // sockaddr_nl of the kernel: family, pad, port id 0, no groups
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    check('sendto', this.c.sendto(this.fd, msg, msg.length, 0, kernel, kernel.length));
    const buf = Buffer.alloc(RECV_BUFFER);
    for (;;) {
      const n = check('recv', this.c.recv(this.fd, buf, buf.length, 0));
      if (n === 0) throw new NetlinkError('recv', 'the kernel closed the dump');
      for (let off = 0; off + NLMSG_HDRLEN <= n; ) {
        const len = buf.readUInt32LE(off);
        if (len < NLMSG_HDRLEN || off + len > n) throw new NetlinkError('recv', 'a reply is cut short');
        const msgType = buf.readUInt16LE(off + 4);
        if (buf.readUInt32LE(off + 8) === seq) {
          if (msgType === NLMSG_DONE) return;
          if (msgType === NLMSG_ERROR) {
            const err = -buf.readInt32LE(off + NLMSG_HDRLEN);
            if (err !== 0) throw new NetlinkError('dump', errnoName(err));
          } else {
            yield { type: msgType, payload: new DataView(buf.buffer, buf.byteOffset + off + NLMSG_HDRLEN, len - NLMSG_HDRLEN) };
          }
        }
        off += align(len);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * The attributes (struct rtattr / nlattr: length, type, value) that follow a
 * message's fixed part, from offset start of its payload.
 */
export function* attributes(payload: DataView, start: number): Generator<{ type: number; value: DataView }> {
  for (let off = start; off + 4 <= payload.byteLength; ) {
    const len = payload.getUint16(off, true);
    if (len < 4 || off + len > payload.byteLength) return;
    // the top two bits are flags (nested, byte order), not the type
    yield { type: payload.getUint16(off + 2, true) & 0x3fff, value: new DataView(payload.buffer, payload.byteOffset + off + 4, len - 4) };
    off += align(len);
  }
}

function sameNamespace(netns: string): boolean {
  try {
    return readlinkSync(netns) === readlinkSync('/proc/thread-self/ns/net');
  } catch {
    return false;
  }
}

/** socket(2) called inside the namespace netns names, then back to this thread's own. */
function socketIn(c: Libc, protocol: number, netns: string): number {
  const own = openSync('/proc/thread-self/ns/net', 'r');
  try {
    let target: number;
    try {
      target = openSync(netns, 'r');
    } catch (e) {
      throw new NetlinkError(`open ${netns}`, (e as NodeJS.ErrnoException).code ?? String(e));
    }
    try {
      check('setns', c.setns(target, CLONE_NEWNET));
    } finally {
      closeSync(target);
    }
    let fd = -1;
    try {
      fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
      if (fd < 0) throw new NetlinkError('socket', errnoName(koffi.errno()));
    } finally {
      // staying in another namespace would change what every later call of this thread sees
      if (c.setns(own, CLONE_NEWNET) < 0) {
        throw new Error(`cannot return to this thread's network namespace: ${errnoName(koffi.errno())}`);
      }
    }
    return fd;
  } finally {
    closeSync(own);
  }
}
