import type { EdgeKind } from './types.js';

const ARROW: Record<EdgeKind, string> = { pipe: '→', fifo: '→', unix: '↔', tcp: '↔', file: '↔', mm: '', fdtable: '' };

/** An edge's label: its kind, what it is on (a FIFO's path, TCP ports, a file's path), and the fds at each end. */
export function edgeLabel(kind: EdgeKind, from: number[], to: number[], detail = ''): string {
  if (kind === 'mm') return 'shared address space';
  if (kind === 'fdtable') return 'shared fd table';
  const fds = from.length && to.length ? `${from.join(',')}${ARROW[kind]}${to.join(',')}` : (from.length ? from : to).join(',');
  return [kind, detail, fds].filter((s) => s !== '').join(' ');
}
