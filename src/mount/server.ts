/**
 * mountStore: a store served read-only over FUSE at a folder, as the proposal's tree
 * (storeFs.ts). The FUSE protocol is spoken straight over /dev/fuse (session.ts), by
 * worker threads that each hold a read-only connection to the store (one by default),
 * so this thread stays free for signals and for unmounting.
 *
 * A server that dies without unmounting (kill -9) would leave a dead mount behind
 * ("Transport endpoint is not connected"). A small watcher, started with the mount in a
 * session of its own, holds a pipe from this process; when the pipe closes without the
 * server having unmounted, it detaches the mount (umount -l), as libfuse's auto_unmount
 * does with fusermount3.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CkptdbError } from '../errors.js';
import { openReadOnlyDatabase } from '../query/connection.js';
import { SyscallError, mountFuse, unmountFuse } from './device.js';
import { GO, STOP, type WorkerData, type WorkerMessage } from './threads.js';

export const FS_TYPE = 'fuse.ckptdb';

export interface MountOptions {
  /**
   * Threads serving requests, each with its own connection to the store; default 1. A
   * request wakes one of them; more serve concurrent readers on more cores, at about
   * 50 MiB each.
   */
  threads?: number;
  /** Called with what went wrong while answering a request (the reader got EIO). */
  onError?: (message: string) => void;
}

export interface MountHandle {
  /** The absolute path of the mount point. */
  readonly mountpoint: string;
  readonly store: string;
  /**
   * Settles when the mount is gone and nothing serves it any more: after unmount(), or
   * after anyone unmounted it (`ckptdb umount`, `umount`).
   */
  readonly closed: Promise<void>;
  /**
   * Unmounts and stops serving. A mount still in use (a shell's working directory in it,
   * an open file) is detached: it leaves the file system at once and ends when the
   * last user lets go.
   */
  unmount(): Promise<void>;
}

/**
 * Serves the store at path read-only at mountpoint, an empty folder. Needs root: the
 * mount is made with mount(2), and /dev/fuse is root's on many machines.
 */
export async function mountStore(path: string, mountpoint: string, options: MountOptions = {}): Promise<MountHandle> {
  const target = resolve(mountpoint);
  const store = resolve(path);
  // What can stop the mount is found before anything is mounted: FUSE first (no root, no
  // FUSE: nothing else matters), then the folder, then the store (exists, is a store).
  const fd = openFuseDevice();
  const control = new Int32Array(new SharedArrayBuffer(8));
  const workers: Worker[] = [];
  let ready: Promise<void>[] = [];
  const ended: Promise<void>[] = [];
  try {
    checkMountpoint(target);
    openReadOnlyDatabase(store).close();
    for (let i = 0; i < Math.max(1, options.threads ?? 1); i++) {
      const w = startWorker({ fd, store, control, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, options, target);
      workers.push(w.worker);
      ready.push(w.ready);
      ended.push(w.ended);
    }
    // Every thread has its connection and its tree before the kernel can ask anything.
    await Promise.all(ready);
    ready = [];
    mountFuse(fd, target, `ckptdb:${store}`);
  } catch (e) {
    Atomics.store(control, 1, STOP);
    Atomics.notify(control, 1);
    await Promise.all(ended);
    closeSync(fd);
    throw e instanceof CkptdbError ? e : mountError(e, target);
  }
  const watcher = startWatcher(target);
  Atomics.store(control, 1, GO);
  Atomics.notify(control, 1);
  for (const w of workers) {
    w.on('message', (m: WorkerMessage) => {
      // Unmounted from outside: the other threads stop too.
      if ('end' in m && m.end === 'unmounted') Atomics.store(control, 0, STOP);
    });
  }
  let unmounting: Promise<void> | null = null;
  const closed = Promise.all(ended).then(() => {
    stopWatcher(watcher);
    closeSync(fd);
    // A thread that failed left the mount behind: it goes now, not when the watcher notices.
    if (isMounted(target)) detach(target);
  });
  return {
    mountpoint: target,
    store,
    closed,
    unmount() {
      unmounting ??= (async () => {
        stopWatcher(watcher);
        detach(target);
        Atomics.store(control, 0, STOP);
        await closed;
      })();
      return unmounting;
    },
  };
}

/**
 * A serving thread: ready settles once it has its connection to the store (and rejects
 * with why it has none); ended, when it has stopped.
 */
function startWorker(data: WorkerData, options: MountOptions, target: string): { worker: Worker; ready: Promise<void>; ended: Promise<void> } {
  // What a request allocates dies with it, and what a thread keeps is small (a few dozen
  // records): small generations keep the server small. Walking 906,000 entries with two
  // threads, V8's defaults took it to 210 MiB; one thread with these stays near 120.
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 32 } });
  const ready = new Promise<void>((res, rej) => {
    worker.on('message', (m: WorkerMessage) => {
      if ('ready' in m) res();
      else if ('failed' in m) rej(new CkptdbError('UNSUPPORTED', `cannot serve ${data.store} at ${target}: ${m.failed}`));
      else if ('error' in m) options.onError?.(m.error);
    });
    worker.once('exit', () => rej(new CkptdbError('UNSUPPORTED', `cannot serve ${data.store} at ${target}: its serving thread ended`)));
  });
  ready.catch(() => {});
  const ended = new Promise<void>((res) => {
    worker.once('error', (e) => {
      options.onError?.(`serving thread failed: ${e instanceof Error ? e.message : String(e)}`);
      Atomics.store(data.control, 0, STOP);
    });
    worker.once('exit', () => res());
  });
  return { worker, ready, ended };
}

/**
 * Unmounts a store mounted by `ckptdb mount` (from any process); its server then ends.
 * A busy mount is refused unless lazy, which detaches it at once.
 */
export function unmountStore(mountpoint: string, opts: { lazy?: boolean } = {}): void {
  const target = resolve(mountpoint);
  const type = mountType(target);
  if (type === null) throw new CkptdbError('BAD_ARGUMENT', `${target} is not a mount point`);
  if (type !== FS_TYPE) throw new CkptdbError('BAD_ARGUMENT', `${target} is a ${type} mount, not one of ckptdb mount`);
  try {
    unmountFuse(target, opts.lazy ?? false);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === 'EBUSY') {
      throw new CkptdbError('STORE_BUSY', `${target} is busy: a process has a file or its working directory in it`, 'close them, or detach it now with `ckptdb umount --lazy`');
    }
    if (e instanceof SyscallError && e.errno === 'EPERM') throw new CkptdbError('PERMISSION', `cannot unmount ${target}: it needs root`);
    throw new CkptdbError('BAD_ARGUMENT', `cannot unmount ${target}: ${(e as Error).message}`);
  }
}

/** Unmounts, or detaches when busy; nothing when it is gone already. */
function detach(target: string): void {
  try {
    unmountFuse(target, false);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === 'EBUSY') unmountFuse(target, true);
    else if (!(e instanceof SyscallError && e.errno === 'EINVAL')) throw e;
  }
}

function checkMountpoint(target: string): void {
  let entries: string[];
  try {
    if (!statSync(target).isDirectory()) throw new CkptdbError('BAD_ARGUMENT', `${target} is not a folder: mount onto an empty folder`);
    entries = readdirSync(target);
  } catch (e) {
    if (e instanceof CkptdbError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CkptdbError('BAD_ARGUMENT', `${target} does not exist: mount onto an empty folder`, `mkdir ${target}`);
    if (code === 'ENOTCONN') throw new CkptdbError('BAD_ARGUMENT', `${target} is a mount whose server is gone`, `unmount it first: umount -l ${target}`);
    throw new CkptdbError('BAD_ARGUMENT', `cannot use ${target} as a mount point: ${code ?? (e as Error).message}`);
  }
  if (entries.length > 0) {
    throw new CkptdbError('BAD_ARGUMENT', `${target} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}): mount onto an empty folder`);
  }
}

function openFuseDevice(): number {
  try {
    return openSync('/dev/fuse', constants.O_RDWR | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
      throw new CkptdbError('UNSUPPORTED', 'FUSE is not available here: there is no /dev/fuse', 'load the fuse module (modprobe fuse); on Debian: apt-get install fuse3');
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CkptdbError('PERMISSION', `cannot open /dev/fuse: permission denied; mounting needs root here (/dev/fuse is ${deviceMode()})`, 'run ckptdb mount as root');
    }
    throw new CkptdbError('UNSUPPORTED', `cannot open /dev/fuse: ${code ?? (e as Error).message}`);
  }
}

function deviceMode(): string {
  try {
    return `0${(statSync('/dev/fuse').mode & 0o777).toString(8)}`;
  } catch {
    return 'not readable';
  }
}

function mountError(e: unknown, target: string): CkptdbError {
  if (!(e instanceof SyscallError)) return new CkptdbError('UNSUPPORTED', `cannot mount ${target}: ${(e as Error).message}`);
  if (e.errno === 'EPERM') return new CkptdbError('PERMISSION', `cannot mount ${target}: mounting needs root (CAP_SYS_ADMIN)`, 'run ckptdb mount as root');
  if (e.errno === 'ENODEV') return new CkptdbError('UNSUPPORTED', `cannot mount ${target}: the kernel has no FUSE file system`, 'load the fuse module (modprobe fuse)');
  return new CkptdbError('UNSUPPORTED', `cannot mount ${target}: ${e.errno}`);
}

/**
 * The watcher: sh reading a pipe that only this process writes to. End of file means
 * this process is gone; if the mount is still there then, it is detached.
 */
function startWatcher(target: string): ChildProcess {
  const child = spawn('sh', ['-c', 'while read -r _; do :; done; exec umount -l -- "$0"', target], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  return child;
}

function stopWatcher(watcher: ChildProcess): void {
  if (watcher.exitCode === null && watcher.signalCode === null) watcher.kill('SIGKILL');
  watcher.stdin?.destroy();
}

/** The file system type mounted at target (as /proc/self/mountinfo shows it), null when none. */
export function mountType(target: string): string | null {
  let found: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = unescapeMountinfo(left.split(' ')[4] ?? '');
    if (point === target) found = right.split(' ')[0] ?? null;
  }
  return found;
}

function isMounted(target: string): boolean {
  return mountType(target) === FS_TYPE;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}
