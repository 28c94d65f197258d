import { CkptdbError } from '../errors.js';
import type { Address } from './writer/types.js';

/**
 * JSON for TEXT columns. Bigints become numbers where exact and decimal strings
 * where not, so no 64-bit value is silently rounded.
 */
export function toJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  try {
    // most values hold no bigint: JSON.stringify alone, without a replacer per value
    return JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(value, (_k, v) =>
      typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    );
  }
}

const MAX_U64 = (1n << 64n) - 1n;
const HEX = /^[0-9a-f]+$/;

/** 16-digit lower-case hex: text order is address order, and 2^64-1 fits. */
export function addressText(value: Address, what: string): string {
  // hex as /proc prints it: lower case, no prefix, at most 16 digits
  if (typeof value === 'string' && value.length <= 16 && HEX.test(value)) return value.padStart(16, '0');
  let n: bigint;
  try {
    if (typeof value === 'string') n = BigInt(value.startsWith('0x') || value.startsWith('0X') ? value : `0x${value}`);
    else n = BigInt(value);
  } catch {
    throw new CkptdbError('BAD_ARGUMENT', `${what}: ${String(value)} is not an address`);
  }
  if (n < 0n || n > MAX_U64) throw new CkptdbError('BAD_ARGUMENT', `${what}: ${String(value)} is not a 64-bit address`);
  return n.toString(16).padStart(16, '0');
}

export function flag(value: boolean | undefined | null): number {
  return value ? 1 : 0;
}
