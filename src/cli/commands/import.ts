import type { Command } from 'commander';
import { Option } from 'commander';
import { IMPORT_FORMATS, checkImportOptions, importFormat, type ImportOption, type ImportSummary } from '../../formats/registry.js';
import { say, withStore } from '../context.js';

const HELP = `
Formats (detected when --format is left out):
${IMPORT_FORMATS.map((f) => `  ${f.name.padEnd(13)} ${f.description}`).join('\n')}
(image reads either form of the image; image-ndjson insists on the NDJSON form.)

An image or tree is validated completely (format and version, the schema of every
record, ids that resolve to objects defined before them, refcounts equal to the
references, parents before children, a tree's done file) while it is written in one
transaction: the first problem is reported on one line naming the file, the JSON
pointer, NDJSON line or tree path, and what was wrong, and nothing is written.

A CRIU checkpoint is a directory with inventory.img, or a container checkpoint
archive (a tar, plain, gzip or zstd, with the images under checkpoint/ beside
config.dump and spec.dump), read as a stream and never unpacked to disk. Its images
are decoded into the tables (tasks, fds, files, sockets, maps, shared objects) and
every file is kept, memory pages included, in 4 KiB chunks shared with every other
checkpoint holding the same bytes, so export --format criu gives the images back. A
bad image (unknown type, newer version, wrong magic, truncated, protobuf that does
not decode) is reported on one line naming the file and byte offset; nothing is
written. Other files of the directory (a README, CRIU's dump.log) are kept with the
images; folders (a json/ of decoded images), links and special files are skipped,
and a line on stderr names them. Command lines are read from the memory pages; environments only with
--with-env.

The new checkpoint's id is printed on stdout.

Examples:
  $ ckptdb import ck3.json                       an image, either form
  $ ckptdb import /tmp/trees/checkpoint-3        a tree written by export --format tree
  $ ckptdb export 3 | ckptdb --db copy.sqlite import -
  $ ckptdb import /var/lib/criu/dump-1           a CRIU image directory (criu dump -D)
  $ ckptdb import web-1.tar.zst --label web-1-before-upgrade
                                                 a container checkpoint archive (podman
                                                 container checkpoint --export)
  $ id=$(ckptdb import ck3.json) && ckptdb show "$id"
`;

const FLAGS: Record<ImportOption, string> = { label: '--label', withEnv: '--with-env' };

export function register(program: Command): void {
  program
    .command('import')
    .argument('<path>', "an image file, a tree's directory, a CRIU image directory or checkpoint archive, or - for an image on stdin")
    .description('read a restore image, a directory tree or a CRIU checkpoint into the store as a new checkpoint')
    .addOption(new Option('--format <format>', `${IMPORT_FORMATS.map((f) => f.name).join(', ')} (default: detected)`))
    .option('--label <text>', "the new checkpoint's label (default: the input's; for CRIU, the container's name or the directory's)")
    .option('--with-env', "criu: also read each process's environment from its memory pages (off by default: environments often hold secrets)")
    .addHelpText('after', HELP)
    .action(async (path: string, opts: { format?: string; label?: string; withEnv?: boolean }, cmd: Command) => {
      const format = importFormat(path, opts.format);
      const options = { label: opts.label, withEnv: opts.withEnv };
      checkImportOptions(format, options, (o) => FLAGS[o]);
      await withStore(cmd, 'create', async (store) => {
        const r = await format.importCheckpoint(store, path, options);
        process.stdout.write(`${r.checkpointId}\n`);
        say(`imported checkpoint ${r.checkpointId} from ${path === '-' ? 'stdin' : path} (${counted(r)})`);
        if (r.skipped?.length) say(`skipped ${r.skipped.length === 1 ? 'an entry' : `${r.skipped.length} entries`}: ${r.skipped.join('; ')}`);
      });
    });
}

function counted(r: ImportSummary): string {
  const bytes = r.bytes === undefined ? '' : `, ${r.bytes} bytes${r.newBytes === undefined ? '' : `, ${r.newBytes} of them new to the store`}`;
  return `${r.records} ${r.unit ?? 'records'}${bytes}`;
}
