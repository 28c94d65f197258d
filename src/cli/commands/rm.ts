import type { Command } from 'commander';
import { parseId, say, withStore } from '../context.js';

export function register(program: Command): void {
  program
    .command('rm')
    .argument('<id...>', 'checkpoint ids')
    .description('delete checkpoints and every row of them')
    .action(async (ids: string[], _opts, cmd: Command) => {
      const parsed = ids.map((id) => parseId(id));
      await withStore(cmd, 'existing', (store) => {
        for (const id of parsed) store.getCheckpoint(id);
        for (const id of parsed) {
          store.deleteCheckpoint(id);
          say(`deleted checkpoint ${id}`);
        }
      });
    });
}
