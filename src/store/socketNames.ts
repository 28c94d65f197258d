/**
 * The words of the sockets table, shared by every source so that a socket reads the
 * same whether it was captured live or imported from CRIU: the kernel's numbers
 * (address family, socket type, sk_state, protocol) by the names ss and /proc/net
 * give them.
 *
 * state is the kernel's sk_state by its TCP_* name (include/net/tcp_states.h), for
 * every family: unix, UDP, raw and ping sockets keep their state in the same field
 * with the same numbers, and CRIU's images store that number. One rule: TCP_CLOSE,
 * which for every family means "neither connected nor listening", is UNCONNECTED
 * (ss's UNCONN), never CLOSE.
 */

const FAMILIES: Record<number, string> = { 1: 'unix', 2: 'inet', 10: 'inet6', 16: 'netlink', 17: 'packet' };

const TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket', 6: 'dccp', 10: 'packet' };

/** sk_state 1..13; index 7 is TCP_CLOSE. */
const STATES = [
  '', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'UNCONNECTED',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];

export const TCP_ESTABLISHED = 1;
export const TCP_CLOSE = 7;
export const TCP_LISTEN = 10;

/** As /etc/protocols names them. */
const IP_PROTOCOLS: Record<number, string> = {
  0: 'ip', 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite', 255: 'raw',
};

const NETLINK_PROTOCOLS: Record<number, string> = {
  0: 'route', 2: 'usersock', 3: 'firewall', 4: 'sock_diag', 5: 'nflog', 6: 'xfrm', 7: 'selinux', 8: 'iscsi',
  9: 'audit', 10: 'fib_lookup', 11: 'connector', 12: 'netfilter', 13: 'ip6_fw', 14: 'dnrtmsg',
  15: 'kobject_uevent', 16: 'generic', 18: 'scsitransport', 19: 'ecryptfs', 20: 'rdma', 21: 'crypto', 22: 'smc',
};

const named = (table: Record<number, string>, n: number) => table[n] ?? String(n);

/** AF_UNIX -> 'unix', AF_INET6 -> 'inet6', ... */
export const socketFamilyName = (n: number) => named(FAMILIES, n);

/** SOCK_STREAM -> 'stream', SOCK_SEQPACKET -> 'seqpacket', ... */
export const socketTypeName = (n: number) => named(TYPES, n);

export const ipProtocolName = (n: number) => named(IP_PROTOCOLS, n);

export const netlinkProtocolName = (n: number) => named(NETLINK_PROTOCOLS, n);

/** A packet socket's protocol (an ethertype, host order) as /proc/net/packet prints it: 0x0003. */
export const packetProtocolText = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** sk_state -> its name (see the top of this file); an unknown number as its digits. */
export function socketStateName(n: number): string {
  return STATES[n] || String(n);
}

/** A state name back to sk_state, or null for a word that is not one. */
export function socketStateNumber(name: string): number | null {
  const i = STATES.indexOf(name);
  if (i > 0) return i;
  return /^\d+$/.test(name) ? Number(name) : null;
}

/**
 * A unix socket's address (sun_path as the kernel keeps it) as ss and /proc/net/unix
 * show it: an abstract name is '@' and the name after its leading NUL, with any NUL
 * inside shown as '@'; a path name without the NUL that ends it. null when unbound.
 */
export function unixAddressText(sunPath: Uint8Array): string | null {
  if (sunPath.length === 0) return null;
  const bytes = Buffer.from(sunPath.buffer, sunPath.byteOffset, sunPath.length);
  if (bytes[0] === 0) return `@${bytes.subarray(1).toString('utf8').replaceAll('\0', '@')}`;
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

/**
 * An IP address from its bytes in network order, as ss shows it: dotted IPv4; IPv6 in
 * RFC 5952 text (lower case, the longest run of two or more zero groups as '::'),
 * IPv4-mapped as ::ffff:a.b.c.d.
 */
export function ipAddressText(bytes: ArrayLike<number>): string {
  const b = Array.from(bytes);
  if (b.length === 4) return b.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${b.slice(12).join('.')}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (best < 0) return text.join(':');
  return `${text.slice(0, best).join(':')}::${text.slice(best + bestLen).join(':')}`;
}
