/**
 * What an open file is, from the link /proc/PID/fd/N reads as and the mode of the inode
 * behind it: a path (`/tmp/x`, ` (deleted)` appended once unlinked), `pipe:[INO]`,
 * `socket:[INO]`, `anon_inode:[eventfd]` and the like.
 */
import { constants as fsc } from 'node:fs';
import type { FileType } from '../../store/writer/types.js';

export interface FileKind {
  type: FileType;
  /** The path, or the link text for objects without one ('pipe:[4711]'). */
  path: string;
  deleted: boolean;
  /** The object the file stands on: pipes and sockets by their link, inodes by dev and inode. */
  object: 'pipe' | 'socket' | 'inode' | null;
  /** Whether the inode's mode is needed to tell the type (paths, and other pseudo-files). */
  needsMode: boolean;
}

const ANON: Record<string, FileType> = {
  eventfd: 'eventfd',
  eventpoll: 'epoll',
  timerfd: 'timerfd',
  signalfd: 'signalfd',
  inotify: 'inotify',
  fanotify: 'fanotify',
};

const DELETED = ' (deleted)';

export function classifyLink(link: string): FileKind {
  if (link.startsWith('pipe:[')) return { type: 'pipe', path: link, deleted: false, object: 'pipe', needsMode: false };
  if (link.startsWith('socket:[')) return { type: 'socket', path: link, deleted: false, object: 'socket', needsMode: false };
  if (link.startsWith('anon_inode:')) {
    const name = link.slice(11).replace(/^\[(.*)\]$/, '$1');
    return { type: ANON[name] ?? 'anon', path: link, deleted: false, object: null, needsMode: false };
  }
  const deleted = link.endsWith(DELETED);
  const path = deleted ? link.slice(0, -DELETED.length) : link;
  return { type: 'unknown', path, deleted, object: 'inode', needsMode: true };
}

/** The type of a path-like file once its inode's mode is known. */
export function typeFromMode(kind: FileKind, mode: number): FileType {
  switch (mode & fsc.S_IFMT) {
    case fsc.S_IFREG:
      return kind.path.startsWith('/memfd:') ? 'memfd' : 'reg';
    case fsc.S_IFDIR:
      return 'dir';
    case fsc.S_IFCHR:
      return 'chr';
    case fsc.S_IFBLK:
      return 'blk';
    case fsc.S_IFIFO:
      return 'fifo';
    case fsc.S_IFLNK:
      return 'lnk';
    default:
      return 'unknown';
  }
}
