import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CkptdbError, isCkptdbError } from '../../errors.js';
import { say, storePath } from '../context.js';

export function register(program: Command): void {
  program
    .command('mount')
    .argument('<mountpoint>', 'an empty folder')
    .description("serve the store read-only over FUSE as the proposal's tree, checkpoint-ID/... as export --format tree writes it (needs root)")
    .option('--foreground', 'serve from this process until Ctrl-C, SIGTERM or ckptdb umount')
    .addOption(new Option('--ready-fd <fd>', 'where a background server says it is serving').hideHelp())
    .addHelpText('after', `
The mount is read-only and only root can enter it. A checkpoint committed while it is
mounted appears at once; a removed one leaves the listing at once, and its name within
a second.
Beyond the export: criu/files/ holds the files of a CRIU checkpoint as CRIU wrote
them, and task-PID/mem a process's memory at its virtual addresses.

Unmount with ckptdb umount MOUNTPOINT (or Ctrl-C / SIGTERM to a --foreground server).
If the server is killed outright, the mount is detached for it.`)
    .action(async (mountpoint: string, opts: { foreground?: boolean; readyFd?: string }, cmd: Command) => {
      const store = storePath(cmd);
      if (opts.foreground) await serve(store, mountpoint, opts.readyFd === undefined ? null : Number(opts.readyFd));
      else await serveInBackground(store, mountpoint);
    });
}

async function serve(store: string, mountpoint: string, readyFd: number | null): Promise<void> {
  // the FUSE server loads when a store is served, not with --help
  const { mountStore } = await import('../../mount/server.js');
  let handle;
  try {
    handle = await mountStore(store, mountpoint, { onError: (message) => say(`ckptdb: mount: ${message}`) });
  } catch (e) {
    if (readyFd !== null) tell(readyFd, `error ${isCkptdbError(e) ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : (e as Error).message}`);
    throw e;
  }
  const unmount = () => void handle.unmount();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, unmount);
  if (readyFd !== null) tell(readyFd, `ready ${process.pid}`);
  else say(`serving ${handle.store} at ${handle.mountpoint}; Ctrl-C or ckptdb umount ${handle.mountpoint} unmounts it`);
  await handle.closed;
  for (const s of signals) process.off(s, unmount);
  if (readyFd === null) say(`unmounted ${handle.mountpoint}`);
}

function tell(fd: number, line: string): void {
  writeSync(fd, `${line}\n`);
  closeSync(fd);
}

/**
 * Starts `mount --foreground` as a server of its own (its own session, no terminal) and
 * waits until it says it serves, or why it cannot.
 */
async function serveInBackground(store: string, mountpoint: string): Promise<void> {
  // From / with absolute paths, so that the server holds no folder busy where it was started.
  const child = spawn(process.execPath, [process.argv[1]!, '--db', resolve(store), 'mount', resolve(mountpoint), '--foreground', '--ready-fd', '3'], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  let said = '';
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  pipe.setEncoding('utf8');
  pipe.on('data', (d: string) => (said += d));
  const status = await new Promise<number | null>((res) => {
    pipe.on('end', () => res(null));
    child.on('exit', (code) => res(code));
  });
  const line = said.split('\n')[0] ?? '';
  if (line.startsWith('ready ')) {
    child.unref();
    say(`mounted ${resolve(store)} at ${resolve(mountpoint)} (server pid ${line.slice(6)}); ckptdb umount ${resolve(mountpoint)} unmounts it`);
    return;
  }
  if (line.startsWith('error ')) throw new CkptdbError('BAD_ARGUMENT', line.slice(6));
  throw new CkptdbError('UNSUPPORTED', `the mount server exited before it served${status === null ? '' : ` (status ${status})`}`);
}
