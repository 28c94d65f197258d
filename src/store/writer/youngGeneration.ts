/**
 * The young generation of the thread that writes a checkpoint, held at the size it has
 * while the checkpoint is written. V8 doubles it (up to 32 MiB by default) whenever as
 * much as it holds has survived scavenges since it last grew, as rows do while they
 * wait in batches, and keeps it so: 32 MiB of a capture's peak RSS near 200 MiB at
 * 200,000 fds, and of an import's of 5 million rows, where 4 to 16 MiB serve as well
 * and cost no CPU time (measured). `--max-semi-space-size` cannot change once the heap
 * exists, but the growth factor is read at each growth, and 1 holds the size.
 *
 * A new isolate (a worker thread) resets a factor below 2 to 2 as it sets up its heap:
 * whoever starts one while a checkpoint is written takes a hold of its own once the
 * worker runs, which sets the factor again.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default growth factor, restored when nothing holds the young generation. */
const DEFAULT_GROWTH = 2;

let holders = 0;

/** Holds the young generation at its size until the returned release is called (more than once is harmless). */
export function holdYoungGeneration(): () => void {
  holders++;
  setFlagsFromString('--semi-space-growth-factor=1');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH}`);
  };
}
