/**
 * Every failure the library reports is a CkptdbError: a stable code a program can
 * branch on, a one-line message that names the thing that was wrong, and an optional
 * hint saying what to do about it. The library never prints or exits; the CLI turns
 * these into one line on stderr and exit status 2.
 */
export type ErrorCode =
  | 'STORE_NOT_FOUND'
  | 'NOT_SQLITE'
  | 'NOT_A_STORE'
  | 'SCHEMA_TOO_NEW'
  | 'STORE_CORRUPT'
  | 'STORE_BUSY'
  | 'NO_SUCH_CHECKPOINT'
  | 'BAD_ARGUMENT'
  | 'DANGLING_REFERENCE'
  | 'WRONG_KIND'
  | 'WRITER_CLOSED'
  | 'NO_SUCH_PROCESS'
  | 'PERMISSION'
  | 'READ_ONLY'
  | 'SQL_ERROR'
  | 'NO_SUCH_QUERY'
  | 'MISSING_PARAMETER'
  | 'BAD_IMAGE'
  | 'UNSUPPORTED'
  | 'INTERRUPTED'
  | 'CRIU_NOT_FOUND'
  | 'CRIU_TOO_OLD'
  | 'CRIU_FAILED'
  | 'PIDS_IN_USE';

export class CkptdbError extends Error {
  override readonly name = 'CkptdbError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isCkptdbError(e: unknown): e is CkptdbError {
  return e instanceof CkptdbError;
}
