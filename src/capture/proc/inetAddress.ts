/**
 * Addresses as /proc/net/{tcp,udp,raw}[6] print them: each 32-bit word of the address
 * in host byte order as 8 hex digits, then ':' and the port in hex.
 */
import { endianness } from 'node:os';

const LITTLE = endianness() === 'LE';

/** The four bytes of one printed word, in network order. */
function wordBytes(hex: string): number[] {
  const n = parseInt(hex, 16) >>> 0;
  const be = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return LITTLE ? be.reverse() : be;
}

export function ipv4(hex: string): string {
  return wordBytes(hex).join('.');
}

/** RFC 5952 text: lower case, the longest run of zero groups as '::', IPv4-mapped as ::ffff:a.b.c.d. */
export function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`;
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

/** 'ADDR:PORT' of /proc/net to an address and a port. */
export function endpoint(field: string, v6: boolean): { addr: string; port: number } {
  const colon = field.indexOf(':');
  const hex = field.slice(0, colon);
  return { addr: v6 ? ipv6(hex) : ipv4(hex), port: parseInt(field.slice(colon + 1), 16) };
}
