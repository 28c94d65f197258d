import type { Command } from 'commander';
import { addFormatOptions, formatOf, parseId, withStore } from '../context.js';
import { jsonValue, renderRows, type Row } from '../render.js';

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('show')
      .argument('<id>', 'checkpoint id')
      .description('summarise a checkpoint: where and when it was taken, and how many of each object it holds')
      .addHelpText('after', `
Rows: id, label, source (proc, import, criu), host, kernel, root pid, frozen (yes when
the tree was held still for a consistent capture), start and finish times, the row
counts per table, and per kind of shared object how many there are, how many are
shared (refcount above 1) and how many references they have. --json gives one object.

Examples:
  $ ckptdb show 3
  $ ckptdb show 3 --json
`),
  ).action(async (id: string, _opts, cmd: Command) => {
    await withStore(cmd, 'existing', async (store) => {
      const d = store.describeCheckpoint(parseId(id));
      const format = formatOf(cmd);
      const meta = d.meta ? (JSON.parse(d.meta) as unknown) : null;
      if (format === 'json') {
        process.stdout.write(jsonValue({ ...d, frozen: d.frozen === 1, meta }, 2) + '\n');
        return;
      }
      const rows: Row[] = [
        { field: 'id', value: d.id },
        { field: 'label', value: d.label },
        { field: 'source', value: d.source },
        { field: 'host', value: d.host },
        { field: 'kernel', value: d.kernel },
        { field: 'root pid', value: d.root_pid },
        { field: 'frozen', value: d.frozen ? 'yes' : 'no' },
        { field: 'started', value: d.started_at },
        { field: 'finished', value: d.finished_at },
        ...Object.entries(d.counts).map(([k, n]) => ({ field: k, value: n })),
        ...d.objects.map((o) => ({ field: `objects: ${o.kind}`, value: `${o.n} (${o.shared} shared, ${o.refs} refs)` })),
      ];
      await renderRows(rows, { format, columns: ['field', 'value'] });
    });
  });
}
