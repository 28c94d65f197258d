import { expect } from 'vitest';
import { CkptdbError } from '../../src/index.js';

/** What every refused input must get: a CkptdbError of code BAD_IMAGE, one line, naming the input first. */
export function expectOneLineRefusal(e: unknown, input: string): void {
  expect(e).toBeInstanceOf(CkptdbError);
  const err = e as CkptdbError;
  expect(err.code).toBe('BAD_IMAGE');
  expect(err.message.startsWith(`${input}`)).toBe(true);
  expect(err.message).not.toMatch(/[\n\r]/);
}
