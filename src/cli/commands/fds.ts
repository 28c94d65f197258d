import type { Command } from 'commander';
import type { Params } from '../../query/params.js';
import { addFormatOptions, formatOf, parseId } from '../context.js';
import { renderRows } from '../render.js';
import { addHostOption, hostOf, withReader } from '../session.js';

const COLUMNS = ['pid', 'tid', 'comm', 'fd', 'cloexec', 'type', 'path', 'pos', 'flags', 'mode', 'deleted', 'file_id', 'shared', 'object_kind', 'object_key'];

const EXAMPLES = `
One row per fd, like lsof, by pid and fd. shared is how many fds in the checkpoint
point at the same open file (after dup or fork they share its position); file_id
names that open file, so equal file_ids are one file. flags are the file's O_* status
flags and mode its st_mode, as numbers; cloexec is 1 for close-on-exec.

Examples:
  $ ckptdb fds                     every fd of the newest checkpoint
  $ ckptdb fds 3 --pid 4242        the fds of process 4242 in checkpoint 3
  $ ckptdb fds 3 --format ndjson | grep '"type":"socket"'
`;

export function register(program: Command): void {
  addFormatOptions(
    addHostOption(
      program
        .command('fds')
        .argument('[id]', 'checkpoint id; default: the newest')
        .description('list the open fds of a checkpoint with their files, like lsof')
        .option('--pid <pid>', 'only the fds of this process')
        .addHelpText('after', EXAMPLES),
    ),
  ).action(async (id: string | undefined, opts: { pid?: string }, cmd: Command) => {
    const format = formatOf(cmd);
    const params: Params = { checkpoint: id === undefined ? null : parseId(id), limit: -1 };
    if (opts.pid !== undefined) params.pid = parseId(opts.pid, 'pid');
    await withReader(cmd, async (reader) => {
      await renderRows((await reader.canned('open_files', params, { host: hostOf(cmd) })).rows, { format, columns: COLUMNS });
    });
  });
}
