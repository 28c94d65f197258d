import type { Command } from 'commander';
import { resolve } from 'node:path';
import { say } from '../context.js';

export function register(program: Command): void {
  program
    .command('umount')
    .argument('<mountpoint>', 'where ckptdb mount serves a store')
    .description('unmount a store served by ckptdb mount; its server ends')
    .option('--lazy', 'detach it even while in use; it ends when the last user lets go')
    .action(async (mountpoint: string, opts: { lazy?: boolean }) => {
      const { unmountStore } = await import('../../mount/server.js');
      unmountStore(mountpoint, { lazy: opts.lazy });
      say(`unmounted ${resolve(mountpoint)}`);
    });
}
