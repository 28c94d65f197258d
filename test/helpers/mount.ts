/**
 * `ckptdb mount` for the tests: the built CLI serving a store in the foreground as its
 * own process, ready once it says so on fd 3; every server a test starts is ended and
 * its mount gone after the test file (SIGTERM, then SIGKILL and umount -l if need be).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { CLI } from './cli.js';

export const isRoot = process.getuid?.() === 0;
export const NO_FUSE = !isRoot ? 'FUSE mounts need root here (/dev/fuse is 0600)' : !existsSync('/dev/fuse') ? 'no /dev/fuse (modprobe fuse)' : '';

export interface Server {
  child: ChildProcess;
  mountpoint: string;
  /** Settles with the server's exit status when it ends. */
  exited: Promise<number | null>;
  stderr: () => string;
}

const servers: Server[] = [];
afterAll(stopMounts);

/** Ends every server started here and makes sure its mount is gone. */
export async function stopMounts(): Promise<void> {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGTERM');
      const ended = await Promise.race([s.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
      if (!ended) s.child.kill('SIGKILL');
    }
    if (fsType(s.mountpoint)) spawnSync('umount', ['-l', s.mountpoint]);
  }
}

/** Starts `ckptdb mount MOUNTPOINT --foreground` on db and waits until it serves. */
export async function startMount(db: string, mountpoint: string): Promise<Server> {
  const child = spawn(process.execPath, [CLI, '--db', db, 'mount', mountpoint, '--foreground', '--ready-fd', '3'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, CKPTDB_DEBUG: '' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const server: Server = { child, mountpoint, exited, stderr: () => stderr };
  servers.push(server);
  const said = await new Promise<string>((res) => {
    let text = '';
    child.stdio[3]!.on('data', (d: Buffer) => (text += d.toString()));
    child.stdio[3]!.on('end', () => res(text));
  });
  if (!said.startsWith('ready ')) throw new Error(`ckptdb mount failed: ${said}${stderr}`);
  return server;
}

/** The type of the file system mounted at path (fuse.ckptdb for ours), null when none. */
export function fsType(path: string): string | null {
  let found: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (left?.split(' ')[4] === path) found = right?.split(' ')[0] ?? null;
  }
  return found;
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
