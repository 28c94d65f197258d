/**
 * Kernel numbers as text to JS values without rounding (see conventions.md): a number
 * while it is exact, a bigint above 2^53. SQLite's INTEGER is signed 64-bit, so an
 * unsigned value of 2^63 or more (a u64 inode number or offset can be) is kept as its
 * two's complement; the shared-object keys keep such values as unsigned text.
 */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function fromBig(n: bigint): number | bigint {
  if (n <= MAX_SAFE && n >= -MAX_SAFE) return Number(n);
  return BigInt.asIntN(64, n);
}

/** Decimal text, as /proc prints positions, inode numbers, limits. */
export function decimal64(text: string): number | bigint {
  // 15 digits are always below 2^53.
  if (text.length <= 15) return Number(text);
  return fromBig(BigInt(text));
}

/** Hex text without 0x, as /proc/PID/maps prints offsets. */
export function hex64(text: string): number | bigint {
  if (text.length <= 13) return parseInt(text, 16);
  return fromBig(BigInt(`0x${text}`));
}

/** 'major:minor' of a dev_t as stat(2) returns it (glibc's gnu_dev_major/minor). */
export function deviceText(dev: number): string {
  const high = Math.floor(dev / 2 ** 32);
  const low = dev >>> 0;
  const major = ((low >>> 8) & 0xfff) | (high & 0xfffff000);
  const minor = (low & 0xff) | ((low >>> 12) & 0xffffff00);
  return `${major >>> 0}:${minor >>> 0}`;
}

/** 'fd:01' (hex, as in /proc/PID/maps) to '253:1', the form files.dev uses. */
export function hexDeviceText(text: string): string {
  const colon = text.indexOf(':');
  return `${parseInt(text.slice(0, colon), 16)}:${parseInt(text.slice(colon + 1), 16)}`;
}
