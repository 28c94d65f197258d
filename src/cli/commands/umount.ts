import type { Command } from 'commander';
import { resolve } from 'node:path';
import { unmountStore } from '../../mount/server.js';
import { say } from '../context.js';

export function register(program: Command): void {
  program
    .command('umount')
    .argument('<mountpoint>', 'where ckptdb mount serves a store')
    .description('unmount a store served by ckptdb mount; its server ends')
    .option('--lazy', 'detach it even while in use; it ends when the last user lets go')
    .action((mountpoint: string, opts: { lazy?: boolean }) => {
      unmountStore(mountpoint, { lazy: opts.lazy });
      say(`unmounted ${resolve(mountpoint)}`);
    });
}
