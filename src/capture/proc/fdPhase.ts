/**
 * Writes the fds of a capture as their tables come placed (placedTable.ts), in table
 * order: each open file when its first fd comes, then the fd. What is kept per open
 * file is its row id, by its number in the capture.
 */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { FileType, SharedObjectInput } from '../../store/writer/types.js';
import { TtyFiles, writeFileDetails, type FileDetails } from './fileDetails.js';
import { decimal64 } from './numbers.js';
import {
  FD_STRIDE, FILE_NUMBERS, FILE_STRINGS, N_DELETED, N_FLAGS, N_INFERRED, N_MNT, N_MODE, S_DEV, S_INODE, S_KEY, S_OBJECT_KEY, S_OBJECT_KIND,
  S_PATH, S_POS, S_SOCKET_INO, S_TYPE, S_UNREADABLE, type PlacedTable,
} from './placedTable.js';
import type { CaptureWarnings } from './warnings.js';

/** A socket object, to describe from what sock_diag and /proc/net show of its inode. */
export interface SocketRef {
  objectId: number;
  ino: string;
}

/** A new file's values, as they came in its table. */
interface FileValues {
  strings: readonly string[];
  at: number;
  numbers: Float64Array;
  n: number;
  attrs: Record<string, unknown> | undefined;
  details: FileDetails | undefined;
}

const orNull = (s: string): string | null => (s === '' ? null : s);
const numberOrNull = (n: number): number | null => (Number.isNaN(n) ? null : n);

export class FdWriter {
  /** Row id of each open file written, by its number. */
  private readonly fileIds: number[] = [];
  /**
   * Open files first reached through a table none of whose tasks was written (they all
   * exited): written if a later fd shares them, named still by the fd that found them.
   */
  private readonly orphans = new Map<number, FileValues & { inferred: boolean }>();
  readonly sockets: SocketRef[] = [];
  private readonly ttys = new TtyFiles();

  constructor(
    private readonly writer: CheckpointWriter,
    private readonly warnings: CaptureWarnings,
  ) {}

  /** Writes a table's fds into the fd table object `fdtable`, or counts them vanished when there is none. */
  write(t: PlacedTable, fdtable: number | null): void {
    const { fds, inferred, numbers } = t;
    const strings = numbers.length ? t.strings.split('\0') : [];
    const attrs = new Map<number, Record<string, unknown>>();
    for (let i = 0; i < t.attrs.length; i += 2) attrs.set(t.attrs[i] as number, t.attrs[i + 1] as Record<string, unknown>);
    const details = new Map<number, FileDetails>();
    for (let i = 0; i < t.details.length; i += 2) details.set(t.details[i] as number, t.details[i + 1] as FileDetails);
    this.warnings.vanishedFds += t.vanished;
    let file = 0;
    let nextInferred = 0;
    for (let i = 0; i < fds.length; i += FD_STRIDE) {
      const fileNo = fds[i + 2]!;
      if (fds[i + 3] === 1) {
        const values: FileValues = { strings, at: file * FILE_STRINGS, numbers, n: file * FILE_NUMBERS, attrs: attrs.get(file), details: details.get(file) };
        file++;
        if (fdtable === null) this.orphans.set(fileNo, { ...values, strings: strings.slice(values.at, values.at + FILE_STRINGS), at: 0, inferred: false });
        else this.writeFile(fileNo, values, numbers[values.n + N_INFERRED] === 1);
      }
      for (let n = fds[i + 4]!; n > 0; n--) {
        const no = inferred[nextInferred++]!;
        const orphan = this.orphans.get(no);
        if (orphan) {
          orphan.inferred = true;
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
        this.writeFile(fileNo, orphan, orphan.inferred || orphan.numbers[orphan.n + N_INFERRED] === 1);
      }
      this.writer.addFd({ fdtable, fd: fds[i]!, cloexec: fds[i + 1] === 1, file: this.fileIds[fileNo]! });
    }
  }

  /** After the last table: the ttys, their pty pairs linked. */
  finish(): void {
    this.ttys.write(this.writer);
  }

  private writeFile(fileNo: number, v: FileValues, inferred: boolean): void {
    const s = v.strings;
    const at = v.at;
    const kind = orNull(s[at + S_OBJECT_KIND]!) as SharedObjectInput['kind'] | null;
    const object = kind === null ? null : this.writer.addSharedObject({ kind, key: s[at + S_OBJECT_KEY]! });
    const unreadable = orNull(s[at + S_UNREADABLE]!);
    const pos = s[at + S_POS]!;
    const inode = s[at + S_INODE]!;
    const n = v.n;
    this.fileIds[fileNo] = this.writer.addFile({
      key: s[at + S_KEY]!,
      type: s[at + S_TYPE] as FileType,
      path: orNull(s[at + S_PATH]!),
      pos: pos === '' ? null : decimal64(pos),
      flags: numberOrNull(v.numbers[n + N_FLAGS]!),
      mode: numberOrNull(v.numbers[n + N_MODE]!),
      mntId: numberOrNull(v.numbers[n + N_MNT]!),
      dev: orNull(s[at + S_DEV]!),
      inode: inode === '' ? null : decimal64(inode),
      deleted: v.numbers[n + N_DELETED] === 1,
      object,
      inferred,
      unreadable,
      attrs: v.attrs,
    });
    if (v.details) writeFileDetails(this.writer, this.fileIds[fileNo]!, v.details, this.ttys);
    if (unreadable) this.warnings.unreadable++;
    else if (inferred) this.warnings.inferredObjects++;
    const ino = s[at + S_SOCKET_INO]!;
    if (ino !== '' && object !== null) this.sockets.push({ objectId: object, ino });
  }
}
