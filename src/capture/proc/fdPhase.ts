/**
 * Writes the fds of a capture as their tables come placed (placedTable.ts), in table
 * order: each open file when its first fd comes, then the fd. What is kept per open
 * file is its row id, by its number in the capture.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { FileType, SharedObjectInput } from '../../store/writer/types.js';
import {
  F_ATTRS, F_DELETED, F_DEV, F_FLAGS, F_INFERRED, F_INODE, F_KEY, F_MNT, F_MODE, F_OBJECT_KEY, F_OBJECT_KIND, F_PATH, F_POS,
  F_SOCKET_INO, F_TYPE, F_UNREADABLE, FD_STRIDE, FILE_STRIDE, type PlacedTable,
} from './placedTable.js';
import type { CaptureWarnings } from './warnings.js';

/** A socket object, to describe from what sock_diag and /proc/net show of its inode. */
export interface SocketRef {
  objectId: number;
  ino: string;
}

export class FdWriter {
  /** Row id of each open file written, by its number. */
  private readonly fileIds: number[] = [];
  /**
   * Open files first reached through a table none of whose tasks was written (they all
   * exited): written if a later fd shares them, named still by the fd that found them.
   */
  private readonly orphans = new Map<number, unknown[]>();
  readonly sockets: SocketRef[] = [];

  constructor(
    private readonly writer: CheckpointWriter,
    private readonly warnings: CaptureWarnings,
  ) {}

  /** Writes a table's fds into the fd table object `fdtable`, or counts them vanished when there is none. */
  write(t: PlacedTable, fdtable: number | null): void {
    const { fds, files, inferred } = t;
    this.warnings.vanishedFds += t.vanished;
    let nextFile = 0;
    let nextInferred = 0;
    for (let i = 0; i < fds.length; i += FD_STRIDE) {
      const fileNo = fds[i + 2]!;
      if (fds[i + 3] === 1) {
        const at = nextFile;
        nextFile += FILE_STRIDE;
        if (fdtable === null) this.orphans.set(fileNo, files.slice(at, at + FILE_STRIDE));
        else this.writeFile(fileNo, files, at);
      }
      for (let n = fds[i + 4]!; n > 0; n--) {
        const no = inferred[nextInferred++]!;
        const orphan = this.orphans.get(no);
        if (orphan) {
          orphan[F_INFERRED] = true;
          continue;
        }
        this.writer.markInferred(this.fileIds[no]!);
        this.warnings.inferredObjects++;
      }
      if (fdtable === null) {
        this.warnings.vanishedFds++;
        continue;
      }
      const orphan = this.orphans.get(fileNo);
      if (orphan) {
        this.orphans.delete(fileNo);
        this.writeFile(fileNo, orphan, 0);
      }
      this.writer.addFd({ fdtable, fd: fds[i]!, cloexec: fds[i + 1] === 1, file: this.fileIds[fileNo]! });
    }
  }

  private writeFile(fileNo: number, files: unknown[], at: number): void {
    const kind = files[at + F_OBJECT_KIND] as SharedObjectInput['kind'] | null;
    const object = kind === null ? null : this.writer.addSharedObject({ kind, key: files[at + F_OBJECT_KEY] as string });
    const inferred = files[at + F_INFERRED] as boolean;
    const unreadable = files[at + F_UNREADABLE] as string | null;
    this.fileIds[fileNo] = this.writer.addFile({
      key: files[at + F_KEY] as string,
      type: files[at + F_TYPE] as FileType,
      path: files[at + F_PATH] as string | null,
      pos: files[at + F_POS] as number | bigint | null,
      flags: files[at + F_FLAGS] as number | null,
      mode: files[at + F_MODE] as number | null,
      mntId: files[at + F_MNT] as number | null,
      dev: files[at + F_DEV] as string | null,
      inode: files[at + F_INODE] as number | bigint | null,
      deleted: files[at + F_DELETED] as boolean,
      object,
      inferred,
      unreadable,
      attrs: files[at + F_ATTRS] as Record<string, unknown> | undefined,
    });
    if (unreadable) this.warnings.unreadable++;
    else if (inferred) this.warnings.inferredObjects++;
    const ino = files[at + F_SOCKET_INO] as string | null;
    if (ino !== null && object !== null) this.sockets.push({ objectId: object, ino });
  }
}
