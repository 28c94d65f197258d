import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { parseParams } from '../../query/params.js';
import { addFormatOptions, formatOf } from '../context.js';
import { renderRows } from '../render.js';
import { addHostOption, collect, hostOf, PARAM_HELP, withReader } from '../session.js';

const EXAMPLES = `
The store is opened read-only. A statement that would write, attach another file,
change a pragma, vacuum into a file or load an extension is refused (exit 2) and
the store stays byte for byte as it was. Views for short SQL: processes, task_info,
open_fds, fd_holders, fdtable_holders, object_holders (see migrations/0002_views.sql).

On PostgreSQL (--db postgres://...) the statement runs in a READ ONLY transaction
that is rolled back, with a statement timeout (--timeout); writes, COPY, SET and
calls of functions that change state are refused. Row ids there are unique only
inside a checkpoint: join on checkpoint_id and id, as the views do. --host H binds
:host, for SQL across the checkpoints of the fleet.

Examples:
  $ ckptdb query "SELECT id, label, started_at FROM checkpoints"
  $ ckptdb query "SELECT fd, type, path FROM open_fds WHERE checkpoint_id = :c AND pid = :pid" -p c=3 -p pid=4242
  $ ckptdb query "SELECT kind, count(*) AS n FROM shared_objects GROUP BY kind" --format csv
  $ ckptdb query - --json < report.sql
  $ ckptdb --db postgres://reader@db/fleet query "SELECT id, started_at FROM checkpoints WHERE host = :host" --host web-1
`;

export function register(program: Command): void {
  addFormatOptions(
    addHostOption(
      program
        .command('query')
        .argument('<sql>', 'one read-only SQL statement, or - to read it from standard input')
        .description('run read-only SQL over the store, with parameters bound by name')
        .option('-p, --param <name=value>', PARAM_HELP, collect, [] as string[])
        .option('--timeout <seconds>', 'PostgreSQL: cancel the statement after this long', '60')
        .addHelpText('after', EXAMPLES),
      'bind :host to this host (as --param host=HOST)',
    ),
  ).action(async (sqlArg: string, opts: { param: string[]; timeout: string }, cmd: Command) => {
    const sql = sqlArg === '-' ? readFileSync(0, 'utf8') : sqlArg;
    if (sql.trim() === '') throw new CkptdbError('BAD_ARGUMENT', 'the query is empty');
    const params = parseParams(opts.param);
    const host = hostOf(cmd);
    if (host !== undefined) {
      if ('host' in params) throw new CkptdbError('BAD_ARGUMENT', '--host and --param host= both bind :host; give one');
      params.host = host;
    }
    const seconds = Number(opts.timeout);
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new CkptdbError('BAD_ARGUMENT', `--timeout ${opts.timeout}: expected a positive number of seconds`);
    const format = formatOf(cmd);
    await withReader(cmd, async (reader) => {
      const result = await reader.sql(sql, params, { timeoutMs: Math.round(seconds * 1000) });
      await renderRows(result.rows, { format, columns: result.columns });
    });
  });
}
