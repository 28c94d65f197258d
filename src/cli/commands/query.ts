import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { parseParams } from '../../query/params.js';
import { addFormatOptions, formatOf } from '../context.js';
import { renderRows } from '../render.js';
import { collect, PARAM_HELP, withQuerySession } from '../session.js';

const EXAMPLES = `
The store is opened read-only. A statement that would write, attach another file,
change a pragma, vacuum into a file or load an extension is refused (exit 2) and
the store stays byte for byte as it was. Views for short SQL: processes, task_info,
open_fds, fd_holders, fdtable_holders, object_holders (see migrations/0002_views.sql).

Examples:
  $ ckptdb query "SELECT id, label, started_at FROM checkpoints"
  $ ckptdb query "SELECT fd, type, path FROM open_fds WHERE checkpoint_id = :c AND pid = :pid" -p c=3 -p pid=4242
  $ ckptdb query "SELECT kind, count(*) AS n FROM shared_objects GROUP BY kind" --format csv
  $ ckptdb query - --json < report.sql
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('query')
      .argument('<sql>', 'one read-only SQL statement, or - to read it from standard input')
      .description('run read-only SQL over the store, with parameters bound by name')
      .option('-p, --param <name=value>', PARAM_HELP, collect, [] as string[])
      .addHelpText('after', EXAMPLES),
  ).action(async (sqlArg: string, opts: { param: string[] }, cmd: Command) => {
    const sql = sqlArg === '-' ? readFileSync(0, 'utf8') : sqlArg;
    if (sql.trim() === '') throw new CkptdbError('BAD_ARGUMENT', 'the query is empty');
    const params = parseParams(opts.param);
    const format = formatOf(cmd);
    await withQuerySession(cmd, async (session) => {
      const result = session.sql(sql, params);
      await renderRows(result.rows, { format, columns: result.columns });
    });
  });
}
