import type { Command } from 'commander';
import { Option } from 'commander';
import { IMPORT_FORMATS, importFormat } from '../../formats/registry.js';
import { say, withStore } from '../context.js';

const HELP = `
Formats (detected when --format is left out):
${IMPORT_FORMATS.map((f) => `  ${f.name.padEnd(13)} ${f.description}`).join('\n')}
(image reads either form of the image; image-ndjson insists on the NDJSON form.)

The input is validated completely (format and version, the schema of every record,
ids that resolve to objects defined before them, refcounts equal to the references,
parents before children, a tree's done file) while it is written in one transaction:
the first problem is reported on one line naming the file, the JSON pointer, NDJSON
line or tree path, and what was wrong, and nothing is written. The new checkpoint's id
is printed on stdout.

Examples:
  $ ckptdb import ck3.json                       an image, either form
  $ ckptdb import /tmp/trees/checkpoint-3        a tree written by export --format tree
  $ ckptdb export 3 | ckptdb --db copy.sqlite import -
  $ id=$(ckptdb import ck3.json) && ckptdb show "$id"
`;

export function register(program: Command): void {
  program
    .command('import')
    .argument('<path>', "an image file, a tree's directory, or - for an image on stdin")
    .description('read a restore image or a directory tree into the store as a new checkpoint')
    .addOption(new Option('--format <format>', 'image, image-ndjson or tree (default: detected)'))
    .addHelpText('after', HELP)
    .action(async (path: string, opts: { format?: string }, cmd: Command) => {
      const format = importFormat(path, opts.format);
      await withStore(cmd, 'create', async (store) => {
        const r = await format.importCheckpoint(store, path);
        process.stdout.write(`${r.checkpointId}\n`);
        say(`imported checkpoint ${r.checkpointId} from ${path === '-' ? 'stdin' : path} (${r.records} records)`);
      });
    });
}
