/**
 * A binding ties a column of the store to a field of a CRIU message: import reads the
 * field into the column, export writes the column back into the message it came from,
 * and only when the two differ, so a field nobody changed keeps its exact presence
 * (proto2 tells a field set to its default from an unset one).
 */
import { CkptdbError } from '../../../errors.js';

export type ColumnValue = string | number | bigint | null;

export interface Binding<M> {
  get(m: M): ColumnValue;
  /** Absent: the column is derived from other data and export ignores changes to it. */
  set?(m: M, v: ColumnValue): void;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined) return b === null || b === undefined;
  if (b === null || b === undefined) return false;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    return BigInt(a) === BigInt(b);
  }
  return a === b;
}

/**
 * Writes the row's values into the message wherever they differ from what the message
 * holds. Returns whether anything changed.
 */
export function overlay<M>(m: M, bindings: Record<string, Binding<M> | undefined>, row: Record<string, unknown>, what: string): boolean {
  let changed = false;
  for (const [column, b] of Object.entries(bindings)) {
    if (!b?.set || !(column in row)) continue;
    const value = row[column] as ColumnValue;
    if (sameValue(value, b.get(m))) continue;
    try {
      b.set(m, value);
    } catch (e) {
      if (e instanceof CkptdbError) throw e;
      throw new CkptdbError('BAD_ARGUMENT', `${what}: ${column} ${String(value)} cannot be written to its CRIU image: ${(e as Error).message}`);
    }
    changed = true;
  }
  return changed;
}

/** Values of the store's INTEGER columns that export reads as bigints. */
export function int(v: ColumnValue, what: string): number {
  if (v === null || typeof v === 'string') throw new Error(`${what} needs a number`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${what} is out of range`);
  return n;
}

export function u32(v: ColumnValue, what: string): number {
  const n = int(v, what);
  if (n < 0 || n > 0xffffffff) throw new Error(`${what} does not fit 32 bits`);
  return n;
}

export function u64(v: ColumnValue, what: string): bigint {
  if (v === null || typeof v === 'string') throw new Error(`${what} needs a number`);
  const n = BigInt(v);
  if (n < 0n || n >= 1n << 64n) throw new Error(`${what} does not fit 64 bits`);
  return n;
}

/** A bigint from a message as the store keeps it: a number where exact. */
export function int64(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
