import type { Command } from 'commander';
import { isPostgresLocation } from '../../store/postgres/location.js';
import { addFormatOptions, formatOf, parseId, say, storePath, withStore } from '../context.js';
import { renderRows } from '../render.js';

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('verify')
      .argument('[id]', 'checkpoint id; default: the whole store')
      .description("check SQLite's integrity, foreign keys, every refcount and CRIU's stored files; exit 1 if anything is wrong")
      .addHelpText('after', `
Checks: integrity (SQLite's integrity_check), foreign_key, refcount (every shared
object's refcount equals the references stored), cross_checkpoint (no reference
into another checkpoint), file_object; and for the files kept of CRIU checkpoints:
chunk_unused (no chunk is left that no file uses), chunk_place (each chunk lies
inside its pack), chunk_hash (each chunk still holds the bytes its SHA-256 names;
this decodes every pack) and
image_size (each file's chunks add up to its size). With an id, the checks that
concern that checkpoint and the chunks it uses. On PostgreSQL: foreign_key (every
reference finds its row in its checkpoint), refcount, file_object, image_size and
chunk_hash, all in the server. One row per problem found; exit 0
when there is none, 1 when there is any.

Examples:
  $ ckptdb verify
  $ ckptdb verify 3 --json
`),
  ).action(async (id: string | undefined, _opts, cmd: Command) => {
    const checkpoint = id === undefined ? undefined : parseId(id);
    const location = storePath(cmd);
    const findings = isPostgresLocation(location)
      ? await (await import('../../store/postgres/verify.js')).verifyPostgres(location, checkpoint)
      : await withStore(cmd, 'existing', async (store) => {
          const { verifyCriuStorage } = await import('../../formats/criu/verify.js');
          return [...store.verify(checkpoint), ...verifyCriuStorage(store, checkpoint)];
        });
    if (findings.length === 0) {
      say(checkpoint === undefined ? 'ok: the store is consistent' : `ok: checkpoint ${checkpoint} is consistent`);
      return;
    }
    await renderRows(findings, { format: formatOf(cmd), columns: ['check', 'checkpointId', 'message'] });
    process.exitCode = 1;
  });
}
