import type { Command } from 'commander';
import { Option } from 'commander';
import { CkptdbError } from '../../errors.js';
import { EXPORT_FORMATS, exportFormat } from '../../formats/registry.js';
import { isPostgresLocation } from '../../store/postgres/location.js';
import type { Store } from '../../store/store.js';
import { parseId, say, storePath, withStore } from '../context.js';

const HELP = `
Formats:
${EXPORT_FORMATS.map((f) => `  ${f.name.padEnd(13)} ${f.description}`).join('\n')}

The image lists the checkpoint in restore order: the process tree from its root,
parents before children, every shared object defined before the first record that
refers to it, ids that resolve inside the image. Its JSON Schema ships in
schema/ckptdb-image.schema.json. Files are written readable by their owner only
(an image holds command lines, and environments when they were captured); a failed
export leaves no partial file behind.

A checkpoint imported from CRIU exports whole in every format: the image (and the
tree) carry every file CRIU wrote, memory pages included, as criuChunk and criuImage
records after the rest, each 4 KiB chunk once however often it repeats (base64 in
the image: about 4/3 of the distinct bytes), so that importing it again gives back a
checkpoint that exports as the same CRIU images.

--format criu writes a CRIU image directory for criu restore: --out names the
directory, which must not exist or be empty. The images ckptdb models (pstree, core,
ids, fs, files, fdinfo, mm) are encoded from the tables, so a change made in the
store reaches them; every other file comes back byte for byte. Only a checkpoint
imported from CRIU can be written so: one captured from /proc has no registers or
memory pages, and is refused.

Examples:
  $ ckptdb export 3 > ck3.json                        the image, to stdout
  $ ckptdb export 3 --out ck3.json                    the image, to a file
  $ ckptdb export 3 --format image-ndjson | jq -c 'select(.record == "task")'
  $ ckptdb export 3 --format tree --out /tmp/trees    writes /tmp/trees/checkpoint-3/
  $ ckptdb export 3 | ckptdb --db other.sqlite import -    copy to another store
  $ ckptdb export 5 --format criu --out /tmp/dump-5 && criu restore -D /tmp/dump-5
  $ ckptdb --db postgres://reader@db/fleet export 17 --format criu --out /tmp/dump-17

From PostgreSQL, the checkpoint is first copied into a scratch store of its own
(removed after), so the bytes are those a local store gives; a CRIU checkpoint
needs its memory pages there (push --with-pages).
`;

export function register(program: Command): void {
  program
    .command('export')
    .argument('<id>', 'checkpoint id')
    .description('write a checkpoint out of the store as a restore image, a directory tree or a CRIU image directory')
    .addOption(new Option('--format <format>', EXPORT_FORMATS.map((f) => f.name).join(', ')).default('image'))
    .option('-o, --out <path>', 'file to write (default: stdout); for tree, the directory to write checkpoint-ID/ into; for criu, the image directory')
    .addHelpText('after', HELP)
    .action(async (id: string, opts: { format: string; out?: string }, cmd: Command) => {
      const checkpointId = parseId(id);
      const format = exportFormat(opts.format);
      if (format.output === 'directory' && !opts.out) {
        throw new CkptdbError('BAD_ARGUMENT', `--format ${format.name} writes a directory: name it with --out DIR`);
      }
      const run = async (store: Store) => {
        const target = opts.out ? { path: opts.out } : { stream: process.stdout };
        const r = await format.exportCheckpoint(store, checkpointId, target);
        if (r.path) say(`exported checkpoint ${checkpointId} to ${r.path} (${r.records} ${r.unit ?? 'records'}${r.bytes !== undefined ? `, ${r.bytes} bytes` : ''})`);
      };
      const location = storePath(cmd);
      if (isPostgresLocation(location)) {
        const { withPulledCheckpoint } = await import('../../store/postgres/scratch.js');
        await withPulledCheckpoint(location, checkpointId, run);
      } else {
        await withStore(cmd, 'existing', run);
      }
    });
}
