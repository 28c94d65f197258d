import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import type { PushProgress } from '../../store/postgres/push.js';
import { isPostgresLocation, redactUrl } from '../../store/postgres/location.js';
import { parseId, say, storePath } from '../context.js';

const HELP = `
Copies checkpoints of the local store (--db) into a PostgreSQL store, the fleet's:
every host pushes its own, and queries, diffs and exports then run across all of them
there (ckptdb --db postgres://... list, q, diff, ...). The database is made a ckptdb
store, or upgraded, on the first push; the role needs to create tables then, and to
insert afterwards.

Each checkpoint goes in one transaction, by COPY: a reader never sees half of one,
and a push that is interrupted leaves nothing of the checkpoint it was copying. A
checkpoint is known everywhere by its uuid: one that is there already is not copied
again, so pushing twice does nothing the second time. With no ids, every checkpoint
not there yet is pushed.

The files of CRIU checkpoints go too, as content-addressed chunks held once however
many checkpoints and hosts hold them, except the memory pages (pages-N.img): those
hold process memory, secrets too, and stay on this host unless --with-pages is
given. A checkpoint pushed without them can be listed, queried and diffed, but not
pulled, exported or restored from PostgreSQL.

The ids the checkpoints have in PostgreSQL are printed on stdout, one per line.

Examples:
  $ ckptdb push --to postgres://ckptdb@db.example/fleet         every checkpoint not there yet
  $ ckptdb push 3 4 --to "$FLEET_URL" --with-pages             two CRIU checkpoints, pages too
  $ PGPASSWORD=... ckptdb push --to postgresql://ckptdb@db/fleet
`;

export function register(program: Command): void {
  program
    .command('push')
    .argument('[id...]', 'local checkpoint ids; default: every checkpoint PostgreSQL does not hold')
    .description('copy checkpoints of the local store into a PostgreSQL store, each once')
    .requiredOption('--to <url>', 'the PostgreSQL store: postgres://user@host/db (libpq PG* variables fill in what it leaves out)')
    .option('--with-pages', "also copy CRIU's memory pages (they hold process memory, secrets too)")
    .addHelpText('after', HELP)
    .action(async (ids: string[], opts: { to: string; withPages?: boolean }, cmd: Command) => {
      const chosen = ids.map((id) => parseId(id));
      if (!isPostgresLocation(opts.to)) throw new CkptdbError('BAD_ARGUMENT', `--to ${opts.to}: expected a PostgreSQL URL (postgres://...)`);
      const path = storePath(cmd);
      if (isPostgresLocation(path)) throw new CkptdbError('BAD_ARGUMENT', `push copies from a local store, not from PostgreSQL (${redactUrl(path)})`, 'name the local store with --db');
      const { openReadOnlyDatabase } = await import('../../query/connection.js');
      const { pushCheckpoints } = await import('../../store/postgres/push.js');
      const where = redactUrl(opts.to);
      const db = openReadOnlyDatabase(path);
      const bar = process.stderr.isTTY ? await progressBar() : null;
      try {
        const pushed = await pushCheckpoints(db, opts.to, { ids: chosen.length ? chosen : undefined, withPages: !!opts.withPages, onProgress: bar?.update });
        bar?.stop();
        if (pushed.length === 0) say(`nothing to push: ${where} holds every checkpoint of ${path}`);
        for (const p of pushed) {
          process.stdout.write(`${p.remote}\n`);
          if (p.status === 'present') {
            say(`checkpoint ${p.local} is in ${where} already, as ${p.remote}: nothing pushed`);
            continue;
          }
          const chunks = p.chunks ? `, ${p.chunks} chunks (${p.chunkBytes} bytes) of CRIU files` : '';
          const kept = p.pagesKept ? `; ${p.pagesKept} pages files kept here (--with-pages pushes them)` : '';
          say(`pushed checkpoint ${p.local} to ${where} as ${p.remote} (${p.rows} rows${chunks})${kept}`);
        }
      } finally {
        bar?.stop();
        db.close();
      }
    });
}

/** A progress bar on a terminal (its library loaded only then): rows of the checkpoint being pushed. */
async function progressBar(): Promise<{ update(p: PushProgress): void; stop(): void }> {
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'pushing checkpoint {checkpoint} [{bar}] {value}/{total} rows',
    hideCursor: true,
    clearOnComplete: true,
  });
  let current: number | null = null;
  return {
    update(p) {
      if (current !== p.checkpoint) {
        if (current !== null) bar.stop();
        bar.start(p.total, p.done, { checkpoint: p.checkpoint });
        current = p.checkpoint;
      }
      bar.update(p.done);
    },
    stop() {
      if (current !== null) bar.stop();
      current = null;
    },
  };
}
