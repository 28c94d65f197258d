import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, constants as fsc } from 'node:fs';
import type { Writable } from 'node:stream';
import { CkptdbError } from '../errors.js';

/** Text is gathered into chunks of this size before it is written: fewer, larger writes. */
const CHUNK = 1 << 20;

/**
 * Writes text pieces to a stream, a megabyte at a time, waiting whenever the stream
 * asks to (back-pressure), so a slow reader on a pipe holds memory to one chunk. A reader
 * that goes away (EPIPE, `| head`) ends the writing quietly.
 */
export async function writeToStream(pieces: Iterable<string>, out: Writable): Promise<void> {
  let closed = false;
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
  };
  out.on('error', onError);
  try {
    let buf = '';
    const flush = async () => {
      if (closed || buf === '') return;
      const ok = out.write(buf);
      buf = '';
      if (!ok) await new Promise<void>((resolve) => {
        const done = () => {
          out.off('drain', done);
          out.off('close', done);
          resolve();
        };
        out.on('drain', done);
        out.on('close', done);
      });
    };
    for (const piece of pieces) {
      if (closed) return;
      buf += piece;
      if (buf.length >= CHUNK) await flush();
    }
    await flush();
  } finally {
    out.off('error', onError);
  }
}

/**
 * Writes text pieces to a new file readable by its owner only (an image holds command
 * lines and maybe environments). The text goes to a hidden file beside it, renamed into
 * place when all of it is written: a failure leaves no partial file behind.
 */
export function writeToFile(pieces: Iterable<string>, path: string): number {
  const partial = `${path}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(partial, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
  } catch (e) {
    throw new CkptdbError('BAD_ARGUMENT', `cannot write ${path}: ${(e as Error).message}`);
  }
  let bytes = 0;
  try {
    let buf = '';
    const flush = () => {
      const b = Buffer.from(buf, 'utf8');
      for (let off = 0; off < b.length;) off += writeSync(fd, b, off);
      bytes += b.length;
      buf = '';
    };
    for (const piece of pieces) {
      buf += piece;
      if (buf.length >= CHUNK) flush();
    }
    flush();
    fsyncSync(fd);
    closeSync(fd);
    renameSync(partial, path);
    return bytes;
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed: the failure came after close
    }
    rmSync(partial, { force: true });
    if (e instanceof CkptdbError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code?.startsWith('E')) throw new CkptdbError('BAD_ARGUMENT', `cannot write ${path}: ${err.message}`, undefined, { cause: e });
    throw e;
  }
}
