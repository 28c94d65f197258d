/**
 * The writing thread's young generation, held at the size it has while a capture's
 * worker runs. V8 doubles it (up to 32 MiB by default) whenever as much as it holds
 * has survived scavenges since it last grew, as a capture's rows do until they are
 * flushed, and keeps it so: at 200,000 fds that was 32 MiB of a peak RSS near 200
 * MiB (measured), where 4 to 8 MiB serve as well. `--max-semi-space-size` cannot
 * change once the heap exists, but the growth factor is read at each growth, and 1
 * holds the size. A new isolate (the worker itself) resets a factor below 2 to 2 as it
 * sets up its heap, so the hold starts once the worker runs.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default growth factor, restored when no capture holds the young generation. */
const DEFAULT_GROWTH = 2;

let holders = 0;

/** Holds the young generation at its size until the returned release is called (once is enough). */
export function holdYoungGeneration(): () => void {
  if (holders++ === 0) setFlagsFromString('--semi-space-growth-factor=1');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH}`);
  };
}
