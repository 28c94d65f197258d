/**
 * ttys: tty-info.img describes each tty an open file is on; the file's entry names it
 * by tty_info_id. A pty is a pair: the master (an open of /dev/ptmx) and the slaves
 * (/dev/pts/N) of one index, linked both ways as file_ttys.peer_file_id.
 */
import type { FileInput, ObjectId, TtyKind } from '../../../store/writer/types.js';
import type { tty_info_entry } from '../gen/files_pb.js';
import { statDevText } from '../values.js';
import type { ImportContext } from './context.js';
import type { FileFacts } from './fileFacts.js';

/** CRIU's TtyType. */
const TTY_KINDS: Record<number, TtyKind> = { 1: 'pty', 2: 'console', 3: 'vt', 4: 'ctty', 6: 'serial' };
/** The major of /dev/ptmx (TTYAUX_MAJOR, with /dev/tty and /dev/console). */
const TTYAUX_MAJOR = 5;

interface TtyFile {
  id: number;
  sub: { ttyInfoId: number };
  image: string;
  offset: number;
}

/** The columns of a tty's files row that tty-info.img holds: its filesystem's device, and the device it stands for. */
export function ttyFileFacts(info: tty_info_entry | undefined): Partial<Pick<FileInput, 'dev' | 'attrs'>> {
  if (!info) return {};
  return { dev: info.dev ? statDevText(info.dev) : null, attrs: { rdev: statDevText(info.rdev) } };
}

export function importTtys(ctx: ImportContext, files: TtyFile[], facts: FileFacts): void {
  const rows = files.map((f) => {
    const info = facts.ttys.get(f.sub.ttyInfoId) ?? null;
    const kind: TtyKind = info ? TTY_KINDS[info.type] ?? 'other' : 'other';
    const rdev = info ? statDevText(info.rdev) : null;
    const major = info ? (info.rdev >>> 8) & 0xfff : -1;
    const role: 'master' | 'slave' | null = kind === 'pty' ? (major === TTYAUX_MAJOR ? 'master' : 'slave') : null;
    const index = kind === 'pty' ? info?.pty?.index ?? null : info ? Number(rdev!.split(':')[1]) : null;
    return { file: ctx.fileRow(f.id, f.image, f.offset, `tty file ${f.id}`), kind, index, role, rdev };
  });
  const masters = new Map<number, ObjectId>();
  const slaves = new Map<number, ObjectId>();
  for (const r of rows) {
    if (r.index === null || r.role === null) continue;
    const side = r.role === 'master' ? masters : slaves;
    side.set(r.index, Math.min(side.get(r.index) ?? Infinity, r.file));
  }
  for (const r of rows) {
    const peer = r.index === null || r.role === null ? null : (r.role === 'master' ? slaves : masters).get(r.index) ?? null;
    ctx.w.addTty({ file: r.file, kind: r.kind, index: r.index, role: r.role, rdev: r.rdev, peer });
  }
}
