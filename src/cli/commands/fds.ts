import type { Command } from 'commander';
import type { Params } from '../../query/params.js';
import { addFormatOptions, formatOf, parseId } from '../context.js';
import { renderRows } from '../render.js';
import { withQuerySession } from '../session.js';

const COLUMNS = ['pid', 'tid', 'comm', 'fd', 'cloexec', 'type', 'path', 'pos', 'flags', 'mode', 'deleted', 'file_id', 'shared', 'object_kind', 'object_key'];

const EXAMPLES = `
One row per fd, like lsof, by pid and fd. FD is the fd with its access as lsof
shows it (3r read, 3w write, 3u both) and TYPE lsof's type (REG, DIR, CHR, FIFO, unix,
IPv4, IPv6, a_inode, ...); flags are the file's O_* status flags and mode its st_mode
as ls -l prints it. shared is how many fds in the checkpoint point at the same open
file (after dup or fork they share its position); file_id names that open file, so
equal file_ids are one file; cloexec is 1 for close-on-exec.

JSON, ndjson, CSV and TSV keep the numbers (fd, type, flags, mode as stored) and add
the text forms beside them: fd_text, type_text, flags_text, mode_text (see
migrations/0009_text_forms.sql, which also has them as SQL functions).

Examples:
  $ ckptdb fds                     every fd of the newest checkpoint
  $ ckptdb fds 3 --pid 4242        the fds of process 4242 in checkpoint 3
  $ ckptdb fds 3 --format ndjson | grep '"type":"socket"'
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('fds')
      .argument('[id]', 'checkpoint id; default: the newest')
      .description('list the open fds of a checkpoint with their files, like lsof')
      .option('--pid <pid>', 'only the fds of this process')
      .addHelpText('after', EXAMPLES),
  ).action(async (id: string | undefined, opts: { pid?: string }, cmd: Command) => {
    const format = formatOf(cmd);
    const params: Params = { checkpoint: id === undefined ? null : parseId(id), limit: -1 };
    if (opts.pid !== undefined) params.pid = parseId(opts.pid, 'pid');
    await withQuerySession(cmd, async (session) => {
      const result = session.canned('open_files', params);
      await renderRows(result.rows, { format, columns: COLUMNS, text: result.text, headers: { fd: 'FD', type: 'TYPE' } });
    });
  });
}
