import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { cannedQueries, NEWEST } from '../../query/canned.js';
import { parseParams } from '../../query/params.js';
import { addFormatOptions, formatOf } from '../context.js';
import { renderRows } from '../render.js';
import { collect, PARAM_HELP, withQuerySession } from '../session.js';

const EXAMPLES = `
Canned queries are the .sql files of ckptdb's sql/ folder: read them, copy them into
\`ckptdb query\`. Every one takes --param checkpoint=ID (default: the newest).

Examples:
  $ ckptdb q --list
  $ ckptdb q fd_counts
  $ ckptdb q open_files -p checkpoint=2 -p pid=4242
  $ ckptdb q pipes -p pid=4242 --json
  $ ckptdb q shared_tasks -p kind=mm -p limit=-1 --format csv
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('q')
      .argument('[name]', 'the canned query to run')
      .description('run a canned query by name, or list them with --list')
      .option('-l, --list', 'list the canned queries with their descriptions and parameters')
      .option('-p, --param <name=value>', PARAM_HELP, collect, [] as string[])
      .addHelpText('after', EXAMPLES),
  ).action(async (name: string | undefined, opts: { list?: boolean; param: string[] }, cmd: Command) => {
    const format = formatOf(cmd);
    if (opts.list) {
      await renderRows(listRows(), { format, columns: ['name', 'description', 'params'] });
      return;
    }
    if (!name) throw new CkptdbError('BAD_ARGUMENT', 'q needs the name of a canned query', '`ckptdb q --list` shows them');
    const params = parseParams(opts.param);
    await withQuerySession(cmd, async (session) => {
      const result = session.canned(name, params);
      await renderRows(result.rows, { format, columns: result.columns, text: result.text });
    });
  });
}

function listRows() {
  return [...cannedQueries().values()].map((q) => ({
    name: q.name,
    description: q.description,
    params: q.params
      .map((p) => (p.default === NEWEST ? `${p.name}=newest` : p.default !== null ? `${p.name}=${p.default}` : p.required ? p.name : `[${p.name}]`))
      .join(' '),
  }));
}
