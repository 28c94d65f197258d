/** /proc/PID/maps: the mappings of an address space, one line each. */
import { hex64, hexDeviceText, decimal64 } from './numbers.js';

/**
 * The values of one mapping, MAP_STRIDE per map in one flat array:
 *   start, end   hex without 0x, as the kernel prints them; the writer keeps every bit
 *   perms        'r-xp'
 *   pgoff        number | bigint
 *   dev          'major:minor', decimal
 *   inode        number | bigint
 *   path         string | null
 *   deleted      boolean
 */
export const MAP_STRIDE = 8;

const DELETED = ' (deleted)';

export function parseMaps(text: string): unknown[] {
  const out: unknown[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) parseLine(text.slice(start, end), out);
    start = end + 1;
  }
  return out;
}

function parseLine(line: string, out: unknown[]): void {
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
  out.push(
    line.slice(0, dash),
    line.slice(dash + 1, s1),
    line.slice(s1 + 1, s2),
    hex64(line.slice(s2 + 1, s3)),
    hexDeviceText(line.slice(s3 + 1, s4)),
    decimal64(line.slice(s4 + 1, s5)),
    path,
    deleted,
  );
}
