import type { EdgeKind } from './types.js';

const ARROW: Record<EdgeKind, string> = { pipe: '→', fifo: '→', unix: '↔', tcp: '↔', file: '↔', mm: '', fdtable: '' };

/** fds as a label shows them: all of up to four, else the first two, … and the last (the JSON has them all). */
function fdList(fds: number[]): string {
  return fds.length <= 4 ? fds.join(',') : `${fds[0]},${fds[1]},…,${fds.at(-1)}`;
}

/** An edge's label: its kind, what it is on (a FIFO's path, TCP ports, a file's path), and the fds at each end. */
export function edgeLabel(kind: EdgeKind, from: number[], to: number[], detail = ''): string {
  if (kind === 'mm') return 'shared address space';
  if (kind === 'fdtable') return 'shared fd table';
  const fds = from.length && to.length ? `${fdList(from)}${ARROW[kind]}${fdList(to)}` : fdList(from.length ? from : to);
  return [kind, detail, fds].filter((s) => s !== '').join(' ');
}
