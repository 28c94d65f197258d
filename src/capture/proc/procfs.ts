/**
 * Reading /proc. Files there change between two reads and vanish with their task, so
 * every read can fail in three ways that the capture treats differently: the thing is
 * gone (the task exited, the fd was closed), access was denied, or something is wrong.
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';

/** Why an entry of /proc could not be read. */
export type ReadFailure = 'gone' | 'denied';

export class ProcReadError extends Error {
  constructor(
    readonly failure: ReadFailure,
    /** Short reason for the store: 'EACCES: permission denied'. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

const GONE = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);
const DENIED = new Set(['EACCES', 'EPERM']);

/** Turns an fs error into a ProcReadError; anything unexpected is rethrown as it is. */
export function asReadError(e: unknown): ProcReadError {
  if (e instanceof ProcReadError) return e;
  const err = e as NodeJS.ErrnoException;
  const reason = (err.message ?? String(e)).split(',')[0]!;
  if (err.code && GONE.has(err.code)) return new ProcReadError('gone', reason, { cause: e });
  if (err.code && DENIED.has(err.code)) return new ProcReadError('denied', reason, { cause: e });
  throw e;
}

// /proc files report size 0, so readFileSync grows a buffer read by read; one shared
// buffer and a plain open/read/close is about twice as fast on this hot path.
let buffer = Buffer.allocUnsafe(64 * 1024);

/** The whole text of a /proc file (latin1 is byte for byte; utf8 for names). */
export function readText(path: string, encoding: 'latin1' | 'utf8' = 'latin1'): string {
  return read(path, encoding, false);
}

/**
 * The text of a /proc file that the kernel renders as one record (stat, status,
 * fdinfo, limits): it arrives whole in the first read that has room for it, so a short
 * read is the end, which spares the second, empty read per file. Files of many
 * records (maps, /proc/net/*) come a page at a time and need readText.
 */
export function readRecord(path: string): string {
  return read(path, 'latin1', true);
}

/** A record-like /proc file parsed from the bytes read, for files read too often to make a string of each first. */
export function readParsed<T>(path: string, parse: (buf: Buffer, length: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw asReadError(e);
  }
  try {
    const length = readInto(fd, true);
    return parse(buffer, length);
  } catch (e) {
    throw asReadError(e);
  } finally {
    closeSync(fd);
  }
}

function readInto(fd: number, shortReadEnds: boolean): number {
  let length = 0;
  for (;;) {
    const room = buffer.length - length;
    const n = readSync(fd, buffer, length, room, null);
    length += n;
    if (n === 0 || (shortReadEnds && n < room)) break;
    if (n === room) {
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
  }
  return length;
}

function read(path: string, encoding: 'latin1' | 'utf8', shortReadEnds: boolean): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw asReadError(e);
  }
  try {
    const length = readInto(fd, shortReadEnds);
    return buffer.toString(encoding, 0, length);
  } catch (e) {
    throw asReadError(e);
  } finally {
    closeSync(fd);
  }
}

export function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch (e) {
    throw asReadError(e);
  }
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (e) {
    throw asReadError(e);
  }
}

/** Runs a read; a failure becomes a value instead of an exception. */
export function attempt<T>(read: () => T): T | ProcReadError {
  try {
    return read();
  } catch (e) {
    return asReadError(e);
  }
}

/** True while the task can still be read. */
export function taskExists(tid: number): boolean {
  const r = attempt(() => readRecord(`/proc/${tid}/stat`));
  return !(r instanceof ProcReadError && r.failure === 'gone');
}

/** The numeric entries of a /proc directory: processes of /proc, threads of task/. */
export function numericEntries(path: string): number[] {
  const out: number[] = [];
  for (const name of listDir(path)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}
