/**
 * What moved under a capture. None of it fails the capture: it is counted, told to the
 * person on stderr and kept in the checkpoint's meta.
 */
export interface CaptureWarnings {
  /** Tasks that exited between being listed and being read. */
  vanishedTasks: number;
  /** Fds closed between being listed and being read. */
  vanishedFds: number;
  /** Entries recorded as unreadable (permission), with the reason in the row. */
  unreadable: number;
  /** Shared objects whose sharing was inferred from evidence because kcmp could not decide. */
  inferredObjects: number;
  /** With --freeze: processes that did not stop in time (uninterruptible sleep, ...). */
  notStopped: number[];
  /** Unix sockets read from /proc/net/unix because sock_diag could not be asked: their peers are unknown. */
  unixPeersUnknown: number;
}

export function noWarnings(): CaptureWarnings {
  return { vanishedTasks: 0, vanishedFds: 0, unreadable: 0, inferredObjects: 0, notStopped: [], unixPeersUnknown: 0 };
}

/** One line each for a person. */
export function describeWarnings(w: CaptureWarnings): string[] {
  const lines: string[] = [];
  if (w.vanishedTasks || w.vanishedFds) {
    lines.push(`${plural(w.vanishedTasks, 'task')} and ${plural(w.vanishedFds, 'fd')} vanished while being read and were skipped`);
  }
  if (w.unreadable) lines.push(`${plural(w.unreadable, 'entry', 'entries')} could not be read (permission) and are recorded as unreadable`);
  if (w.inferredObjects) lines.push(`sharing of ${plural(w.inferredObjects, 'object')} was inferred, not decided by kcmp`);
  if (w.unixPeersUnknown) {
    lines.push(`the peers of ${plural(w.unixPeersUnknown, 'unix socket')} are unknown: sock_diag could not be asked, /proc/net/unix was read instead`);
  }
  if (w.notStopped.length) lines.push(`${plural(w.notStopped.length, 'process', 'processes')} did not stop for --freeze: ${w.notStopped.join(' ')}`);
  return lines;
}

/** '1 fd', '3 fds'. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
