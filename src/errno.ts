import { constants } from 'node:os';

const NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** An errno's name (EPERM, ENOENT, ...), as the system calls made through koffi report them. */
export function errnoName(n: number): string {
  return NAMES.get(n) ?? `errno ${n}`;
}
