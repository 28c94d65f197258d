/**
 * Chunks written to a file a batch at a time: a system call per 4 KiB chunk costs more
 * than the chunk, one writev of 256 of them (1 MiB) does not.
 */
import { writevSync } from 'node:fs';

const WRITE_BATCH = 256;

/**
 * Writes the pieces in order, from position (null: the file's own offset); returns the
 * bytes written. Each batch is written before the next piece is taken: ChunkReader's
 * buffers stay valid for a few packs, not for a whole image.
 */
export function writeChunks(fd: number, pieces: Iterable<Uint8Array>, position: number | null = null): number {
  let batch: Uint8Array[] = [];
  let n = 0;
  let at = position;
  const flush = () => {
    // a short write leaves the rest of the batch, from where it stopped, for the next call
    let rest = batch;
    while (rest.length) {
      let written = at === null ? writevSync(fd, rest) : writevSync(fd, rest, at);
      if (at !== null) at += written;
      let i = 0;
      while (i < rest.length && written >= rest[i]!.length) written -= rest[i++]!.length;
      rest = i < rest.length ? [rest[i]!.subarray(written), ...rest.slice(i + 1)] : [];
    }
    batch = [];
  };
  for (const p of pieces) {
    batch.push(p);
    n += p.length;
    if (batch.length === WRITE_BATCH) flush();
  }
  if (batch.length) flush();
  return n;
}
