import { CkptdbError } from '../errors.js';

/**
 * The error of an input that is not a valid image or tree. The message quotes what the
 * input holds (keys, names, values), so control characters in it are escaped: whatever
 * the input, the message stays one line.
 */
export function badImage(message: string, hint?: string): CkptdbError {
  const oneLine = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new CkptdbError('BAD_IMAGE', oneLine, hint);
}
