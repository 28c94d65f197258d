import type { Command } from 'commander';
import { addFormatOptions, formatOf, withStore } from '../context.js';
import { renderRows } from '../render.js';

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('list')
      .alias('ls')
      .description('list the checkpoints in the store, oldest first'),
  ).action(async (_opts, cmd: Command) => {
    await withStore(cmd, 'existing', (store) => renderRows(store.listCheckpoints(), { format: formatOf(cmd) }));
  });
}
