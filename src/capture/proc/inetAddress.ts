/**
 * Addresses as /proc/net/{tcp,udp,raw}[6] print them: each 32-bit word of the address
 * in host byte order as 8 hex digits, then ':' and the port in hex.
 */
import { endianness } from 'node:os';
import { ipAddressText } from '../../store/socketNames.js';

const LITTLE = endianness() === 'LE';

/** The four bytes of one printed word, in network order. */
function wordBytes(hex: string): number[] {
  const n = parseInt(hex, 16) >>> 0;
  const be = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return LITTLE ? be.reverse() : be;
}

/** 'ADDR:PORT' of /proc/net to an address and a port. */
export function endpoint(field: string, v6: boolean): { addr: string; port: number } {
  const colon = field.indexOf(':');
  const hex = field.slice(0, colon);
  const bytes: number[] = [];
  for (let i = 0; i < (v6 ? 32 : 8); i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  return { addr: ipAddressText(bytes), port: parseInt(field.slice(colon + 1), 16) };
}
