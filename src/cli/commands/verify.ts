import type { Command } from 'commander';
import { addFormatOptions, formatOf, parseId, say, withStore } from '../context.js';
import { renderRows } from '../render.js';

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('verify')
      .argument('[id]', 'checkpoint id; default: the whole store')
      .description("check SQLite's integrity, foreign keys and every refcount; exit 1 if anything is wrong"),
  ).action(async (id: string | undefined, _opts, cmd: Command) => {
    const checkpoint = id === undefined ? undefined : parseId(id);
    const findings = await withStore(cmd, 'existing', (store) => store.verify(checkpoint));
    if (findings.length === 0) {
      say(checkpoint === undefined ? 'ok: the store is consistent' : `ok: checkpoint ${checkpoint} is consistent`);
      return;
    }
    await renderRows(findings, { format: formatOf(cmd), columns: ['check', 'checkpointId', 'message'] });
    process.exitCode = 1;
  });
}
