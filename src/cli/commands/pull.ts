import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { isPostgresLocation, redactUrl } from '../../store/postgres/location.js';
import { parseId, say, withStore } from '../context.js';

const HELP = `
Copies one checkpoint of a PostgreSQL store into the local store (--db, created if
need be), for export and restore on this host: all its rows, and the files of a CRIU
checkpoint, whose chunks the local store shares with what it holds already. It gets
a new id here; its uuid stays, so pulling it again does nothing. A CRIU checkpoint
whose memory pages were not pushed (push --with-pages) is refused: it could not be
restored.

The checkpoint's id in the local store is printed on stdout.

Examples:
  $ ckptdb pull 17 --from postgres://reader@db/fleet
  $ id=$(ckptdb pull 17 --from "$FLEET_URL") && ckptdb export "$id" --format criu --out /tmp/dump
`;

export function register(program: Command): void {
  program
    .command('pull')
    .argument('<id>', 'the checkpoint id in PostgreSQL')
    .description('copy one checkpoint of a PostgreSQL store into the local store')
    .requiredOption('--from <url>', 'the PostgreSQL store: postgres://user@host/db')
    .addHelpText('after', HELP)
    .action(async (id: string, opts: { from: string }, cmd: Command) => {
      const remote = parseId(id);
      if (!isPostgresLocation(opts.from)) throw new CkptdbError('BAD_ARGUMENT', `--from ${opts.from}: expected a PostgreSQL URL (postgres://...)`);
      const { pullCheckpoint } = await import('../../store/postgres/pull.js');
      const where = redactUrl(opts.from);
      await withStore(cmd, 'create', async (store) => {
        const r = await pullCheckpoint(store.db, opts.from, remote);
        process.stdout.write(`${r.local}\n`);
        if (r.status === 'present') say(`checkpoint ${remote} of ${where} is here already, as ${r.local}: nothing pulled`);
        else say(`pulled checkpoint ${remote} from ${where} as ${r.local} (${r.rows} rows)`);
      });
    });
}
