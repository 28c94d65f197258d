/** /proc/PID/maps: the mappings of an address space, one line each. */
import { hex64, hexDeviceText, decimal64 } from './numbers.js';

export interface MapEntry {
  /** Hex without 0x, as the kernel prints it; the writer keeps every bit. */
  start: string;
  end: string;
  perms: string;
  pgoff: number | bigint;
  /** 'major:minor', decimal. */
  dev: string;
  inode: number | bigint;
  path: string | null;
  deleted: boolean;
}

const DELETED = ' (deleted)';

export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) out.push(parseLine(text.slice(start, end)));
    start = end + 1;
  }
  return out;
}

function parseLine(line: string): MapEntry {
  // start-end perms offset dev inode [path]; the path may hold spaces
  const dash = line.indexOf('-');
  const s1 = line.indexOf(' ', dash);
  const s2 = line.indexOf(' ', s1 + 1);
  const s3 = line.indexOf(' ', s2 + 1);
  const s4 = line.indexOf(' ', s3 + 1);
  let s5 = line.indexOf(' ', s4 + 1);
  if (s5 < 0) s5 = line.length;
  let path: string | null = line.slice(s5).trimStart() || null;
  let deleted = false;
  if (path?.endsWith(DELETED)) {
    deleted = true;
    path = path.slice(0, -DELETED.length);
  }
  return {
    start: line.slice(0, dash),
    end: line.slice(dash + 1, s1),
    perms: line.slice(s1 + 1, s2),
    pgoff: hex64(line.slice(s2 + 1, s3)),
    dev: hexDeviceText(line.slice(s3 + 1, s4)),
    inode: decimal64(line.slice(s4 + 1, s5)),
    path,
    deleted,
  };
}
