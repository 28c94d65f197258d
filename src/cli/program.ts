import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../paths.js';
import { register as list } from './commands/list.js';
import { register as show } from './commands/show.js';
import { register as rm } from './commands/rm.js';
import { register as verify } from './commands/verify.js';
import { register as exportCommand } from './commands/export.js';
import { register as importCommand } from './commands/import.js';
import { register as query } from './commands/query.js';
import { register as q } from './commands/q.js';
import { register as ps } from './commands/ps.js';
import { register as fds } from './commands/fds.js';
import { register as objects } from './commands/objects.js';
import { register as capture } from './commands/capture.js';
import { register as diff } from './commands/diff.js';
import { register as checkpoint } from './commands/checkpoint.js';
import { register as restore } from './commands/restore.js';
import { register as mem } from './commands/mem.js';
import { register as graph } from './commands/graph.js';
import { register as mount } from './commands/mount.js';
import { register as umount } from './commands/umount.js';

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
  $ ckptdb mount /mnt/ckpt              the store as files: cat /mnt/ckpt/latest/task-*/comm

The store is $CKPTDB_DB, or $XDG_DATA_HOME/ckptdb/store.sqlite
(~/.local/share/ckptdb/store.sqlite). Errors exit with status 2; set
CKPTDB_DEBUG=1 to see their stack traces.
`;

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ckptdb')
    .description('A SQLite store of Linux process checkpoints: capture, query, diff, export.')
    .version(pkg.version, '-V, --version')
    .addOption(new Option('--db <path>', 'store file').env('CKPTDB_DB'))
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXAMPLES);
  for (const register of [capture, checkpoint, restore, list, show, ps, fds, objects, mem, graph, q, query, diff, exportCommand, importCommand, rm, verify, mount, umount]) register(program);
  return program;
}
