/**
 * The key of the pipe behind a FIFO, the same for every source. Every open of a FIFO
 * shares one pipe, which the kernel keeps on the FIFO's inode, so the pipe (kind
 * 'pipe', like an anonymous pipe's 'pipe:[4711]') is named by that inode: 'fifo:',
 * the device of its filesystem and the inode number ('fifo:8:1:1234'). A source that
 * knows only the mount the FIFO was opened through puts its mount id in place of the
 * device ('fifo:mnt25:1234'), one that knows neither a '?'.
 */
export function fifoKey(dev: string | null, mntId: number | null, ino: string | number): string {
  const device = dev ?? (mntId !== null && mntId >= 0 ? `mnt${mntId}` : '?');
  return `fifo:${device}:${ino}`;
}
