/**
 * Shared object kinds as small numbers, so the writer can keep them in typed arrays,
 * and sets of kinds as bit masks, so checking a reference's kind is one AND.
 */
import type { SharedObjectKind } from './types.js';

export const OBJECT_KINDS: readonly SharedObjectKind[] = ['file', 'inode', 'pipe', 'socket', 'anon', 'mm', 'fdtable', 'fs', 'sighand', 'ns'];

const CODES = new Map<string, number>(OBJECT_KINDS.map((k, i) => [k, i]));

/** The code of a kind, or -1 for a string that names none. */
export function kindCode(kind: string): number {
  return CODES.get(kind) ?? -1;
}

export function kindName(code: number): SharedObjectKind {
  return OBJECT_KINDS[code]!;
}

export function kindMask(...kinds: SharedObjectKind[]): number {
  let mask = 0;
  for (const k of kinds) mask |= 1 << kindCode(k);
  return mask;
}

export function maskNames(mask: number): SharedObjectKind[] {
  return OBJECT_KINDS.filter((_, i) => (mask & (1 << i)) !== 0);
}
