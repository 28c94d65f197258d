/** A typed array of the same kind, `size` long, that starts with a's elements. */
export function grownArray<T extends Int32Array | Float64Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
