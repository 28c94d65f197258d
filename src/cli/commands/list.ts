import type { Command } from 'commander';
import { addFormatOptions, formatOf } from '../context.js';
import { renderRows } from '../render.js';
import { addHostOption, hostOf, withReader } from '../session.js';

export function register(program: Command): void {
  addFormatOptions(
    addHostOption(
      program
        .command('list')
        .alias('ls')
        .description('list the checkpoints in the store, oldest first'),
      'only the checkpoints of this host',
    ),
  ).action(async (_opts, cmd: Command) => {
    const format = formatOf(cmd);
    await withReader(cmd, async (reader) => renderRows(await reader.listCheckpoints(hostOf(cmd)), { format }));
  });
}
