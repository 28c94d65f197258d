import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../paths.js';

type Register = (program: Command) => void;

/**
 * Every command, in the order --help lists them, each loaded only when it is needed:
 * a command pulls in what it runs (the capture its /proc readers, export its formats),
 * and a run of one command should not pay for the others.
 */
const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  capture: () => import('./commands/capture.js'),
  checkpoint: () => import('./commands/checkpoint.js'),
  restore: () => import('./commands/restore.js'),
  list: () => import('./commands/list.js'),
  show: () => import('./commands/show.js'),
  ps: () => import('./commands/ps.js'),
  fds: () => import('./commands/fds.js'),
  objects: () => import('./commands/objects.js'),
  mem: () => import('./commands/mem.js'),
  graph: () => import('./commands/graph.js'),
  q: () => import('./commands/q.js'),
  query: () => import('./commands/query.js'),
  diff: () => import('./commands/diff.js'),
  export: () => import('./commands/export.js'),
  import: () => import('./commands/import.js'),
  rm: () => import('./commands/rm.js'),
  verify: () => import('./commands/verify.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  mount: () => import('./commands/mount.js'),
  umount: () => import('./commands/umount.js'),
};

const EXAMPLES = `
Examples:
  $ ckptdb capture $$ --tree            capture this shell and its descendants
  $ ckptdb show                         what the newest checkpoint holds
  $ ckptdb ps                           its process tree
  $ ckptdb fds --pid 1234               open files of one process, like lsof
  $ ckptdb q --list                     the canned queries
  $ ckptdb query "SELECT comm, count(*) FROM tasks GROUP BY comm"
  $ ckptdb graph --out tree.svg         who talks to whom: pipes, sockets, shared files
  $ ckptdb diff 1 2                     what changed between two checkpoints
  $ ckptdb export 1 --format image --out ck.json
  $ ckptdb checkpoint 1234 --tree       criu dump of a live tree into the store
  $ ckptdb restore 4                    criu restore of checkpoint 4
  $ ckptdb mem 4 --pid 1234 --search key  look for text in a process's memory
  $ ckptdb import /var/lib/criu/dump    a CRIU image directory or checkpoint tar
  $ ckptdb --db /tmp/ck.sqlite rm 3     delete checkpoint 3 of another store
  $ ckptdb push --to postgres://db/fleet   copy checkpoints to the fleet's PostgreSQL
  $ ckptdb --db postgres://db/fleet q listeners -p port=8080
  $ ckptdb mount /mnt/ckpt              the store as files: cat /mnt/ckpt/latest/task-*/comm

The store is $CKPTDB_DB, or $XDG_DATA_HOME/ckptdb/store.sqlite
(~/.local/share/ckptdb/store.sqlite); --db postgres://... reads a PostgreSQL store. Errors exit with status 2; set
CKPTDB_DEBUG=1 to see their stack traces.
`;

/**
 * The program, with the command argv names, or with every command when argv names
 * none (or one ckptdb does not have): top-level help lists them all, and commander
 * answers an unknown name itself.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ckptdb')
    .description('A SQLite store of Linux process checkpoints: capture, query, diff, export.')
    .version(pkg.version, '-V, --version')
    .addOption(new Option('--db <path|url>', 'store file, or a PostgreSQL store: postgres://user@host/db').env('CKPTDB_DB'))
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXAMPLES);
  const name = commandName(argv.slice(2));
  const names = name !== null && name in COMMANDS ? [name] : Object.keys(COMMANDS);
  const modules = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const m of modules) m.register(program);
  return program;
}

/** The first argument that is not a top-level option or its value. */
function commandName(args: readonly string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--db') i++;
    else if (!a.startsWith('-')) return a;
  }
  return null;
}
