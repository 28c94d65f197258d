import type { Command } from 'commander';
import { treePrefixes } from '../../query/tree.js';
import type { Params } from '../../query/params.js';
import { addFormatOptions, formatOf, parseId } from '../context.js';
import { renderRows, type Row } from '../render.js';
import { withQuerySession } from '../session.js';

const EXAMPLES = `
The table is drawn like \`pstree -p\`: name(pid), children under their parent, with
each process's thread count and command line. Other formats give one row per
process, parents before children: pid, ppid, depth, comm, threads, state (the
letter), state_text (its word: running, sleeping, stopped, zombie, ...), uid, command
(the arguments joined by spaces) and cmdline (the arguments as a JSON array).

Examples:
  $ ckptdb ps                 the newest checkpoint
  $ ckptdb ps 3 --pid 4242    the subtree under process 4242 in checkpoint 3
  $ ckptdb ps 3 --json
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('ps')
      .argument('[id]', 'checkpoint id; default: the newest')
      .description('draw the process tree of a checkpoint, with thread counts and command lines')
      .option('--pid <pid>', 'only the subtree under this process')
      .addHelpText('after', EXAMPLES),
  ).action(async (id: string | undefined, opts: { pid?: string }, cmd: Command) => {
    const format = formatOf(cmd);
    const params: Params = { checkpoint: id === undefined ? null : parseId(id) };
    if (opts.pid !== undefined) params.pid = parseId(opts.pid, 'pid');
    await withQuerySession(cmd, async (session) => {
      const result = session.canned('process_tree', params);
      const rows = [...result.rows];
      if (format !== 'table') {
        const parsed = rows.map((r) => ({ ...r, cmdline: typeof r.cmdline === 'string' ? (JSON.parse(r.cmdline) as unknown) : null }));
        await renderRows(parsed, { format, columns: ['pid', 'ppid', 'depth', 'comm', 'threads', 'state', 'uid', 'command', 'cmdline'], text: result.text });
        return;
      }
      const prefixes = treePrefixes(rows.map((r) => Number(r.depth)));
      const drawn: Row[] = rows.map((r, i) => ({ tree: `${prefixes[i]}${String(r.comm ?? '?')}(${String(r.pid)})`, threads: r.threads, command: r.command }));
      await renderRows(drawn, { format, columns: ['tree', 'threads', 'command'] });
    });
  });
}
