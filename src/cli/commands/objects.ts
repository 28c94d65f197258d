import { Option, type Command } from 'commander';
import type { SharedObjectKind } from '../../store/writer/types.js';
import type { Params } from '../../query/params.js';
import { addFormatOptions, formatOf, parseId } from '../context.js';
import { renderRows } from '../render.js';
import { withQuerySession } from '../session.js';

const KINDS: readonly SharedObjectKind[] = ['file', 'inode', 'pipe', 'socket', 'anon', 'mm', 'fdtable', 'fs', 'sighand', 'ns'];

const EXAMPLES = `
Every kernel object that references point to, with its refcount (the references
inside this checkpoint) and who holds it: pid:fd,fd for fds on an open file or on
the files of a pipe, socket, inode or anon object; pid/tid,tid for the threads using
an address space, fd table, fs, signal handlers or namespace.

Examples:
  $ ckptdb objects 3 --shared                  everything shared, in checkpoint 3
  $ ckptdb objects 3 --kind pipe
  $ ckptdb objects --kind mm --shared --json   address spaces of several tasks, newest checkpoint
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('objects')
      .argument('[id]', 'checkpoint id; default: the newest')
      .description('list shared objects with their refcounts and the processes that reference them')
      .addOption(new Option('--kind <kind>', 'only objects of this kind').choices(KINDS))
      .option('--shared', 'only objects with more than one reference')
      .addHelpText('after', EXAMPLES),
  ).action(async (id: string | undefined, opts: { kind?: string; shared?: boolean }, cmd: Command) => {
    const format = formatOf(cmd);
    const params: Params = { checkpoint: id === undefined ? null : parseId(id), kind: opts.kind ?? null, shared: opts.shared ? 1 : 0, limit: -1 };
    await withQuerySession(cmd, async (session) => {
      const result = session.canned('objects', params);
      await renderRows(result.rows, { format, columns: result.columns, text: result.text });
    });
  });
}
