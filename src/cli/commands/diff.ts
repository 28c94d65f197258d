import { once } from 'node:events';
import { Command, Option } from 'commander';
import type { CheckpointDiff } from '../../query/diff/engine.js';
import { FIELDS } from '../../query/diff/fields.js';
import { DIFF_KINDS, DIFF_STATUSES } from '../../query/diff/types.js';
import { isPostgresLocation, redactUrl } from '../../store/postgres/location.js';
import type { CheckpointGraph } from '../../query/graph/types.js';
import { parseId, storePath, withStore } from '../context.js';
import { jsonValue } from '../render.js';
import { emit, graphText } from './graph.js';

/** Words into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

const HELP = `
Identity: a task is its pid and start time (the same pid with another start time is
one task gone and another new); a process is its pid and its main thread's start time,
also when that thread has exited and only the others run. An fd is its process, fd
table and number: every fd table a task of the process holds is compared, and one that
is not the process's own (a thread's, after unshare(CLONE_FILES)) shows as
"fd 3 (thread 1234)". What an fd points to is compared by what the file is (type, path,
dev, inode, pos, flags, mode). A map is its process, address space and start address;
a kernel object (pipe, socket, inode, ns, anon) is its kind and key. Sharing is
compared too: shared_with lists the other fds holding an fd's open file ("pid:fd", or
"pid/tid:fd" in a thread's own table), and a task's mm / fdtable / fs / sighand name
the task that owns it. details holds what an anonymous file is: an eventfd's counter,
an epoll's targets, an inotify's watches, a timerfd's clock and interval (not its
ticks and time left, which move with the clock), a signalfd's mask, a tty's number.

Checkpoints imported from CRIU keep the files of their image directory: images
compares them by name, and their bytes by the SHA-256 of each 4 KiB chunk (page), so
memory pages, registers (core-N.img) and every other kept file count; content is the
number of chunks that differ. CRIU's logs (*.log) and statistics (stats-dump) of the
dump run are left out: they differ between any two dumps. Checkpoints captured from
/proc keep no such files, and their diff text leaves the images line out.

Fields (for --ignore):
${DIFF_KINDS.map((k) => `  ${k.padEnd(8)} ${wrap(FIELDS[k].join(' '), 68).join(`\n${' '.repeat(11)}`)}`).join('\n')}

Either store may be PostgreSQL (--db or --db-b postgres://...): two checkpoints of one
PostgreSQL store are diffed there, in SQL; a checkpoint of PostgreSQL against one of a
local store is first read into a scratch store of its own.

--format svg (or dot) draws checkpoint B as \`ckptdb graph\` does, with what changed
from A marked: processes and connections added in green, removed in red (dashed,
where they were), processes with a change to their tasks, fds or maps in orange.

Exit status: 0 identical, 1 different, 2 error (unknown checkpoint, unreadable store).

Examples:
  $ ckptdb diff 1 2                          what changed from checkpoint 1 to 2
  $ ckptdb diff 1 2 --only fds --ignore pos  open, closed and re-pointed fds; positions aside
  $ ckptdb diff 3 1 --db-b other.sqlite      checkpoint 1 of another store against 3 of this one
  $ ckptdb diff 4 5 --only images            which CRIU image files (pages, registers) differ
  $ ckptdb diff 1 2 --json | jq '.fds.changed[].key'
  $ ckptdb diff 1 2 >/dev/null && echo same
  $ ckptdb --db postgres://reader@db/fleet diff 17 42    two hosts' checkpoints in the fleet store
  $ ckptdb diff 3 17 --db-b postgres://reader@db/fleet   a local checkpoint against a pushed one
`;

interface DiffCommandOptions {
  dbB?: string;
  format: 'text' | 'json' | 'svg' | 'dot';
  out?: string;
  json?: boolean;
  only?: string[];
  ignore?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('diff')
    .argument('<a>', 'checkpoint id: before')
    .argument('<b>', 'checkpoint id: after')
    .description('what changed from checkpoint A to checkpoint B: tasks, fds, memory maps, kernel objects and their sharing, CRIU image files')
    .option('--db-b <path|url>', 'the store of checkpoint B, a file opened read-only or a PostgreSQL URL (default: the store of A)')
    .addOption(new Option('--format <format>', 'text: a review grouped by process; json: one document; svg or dot: the graph of B with the changes marked').choices(['text', 'json', 'svg', 'dot']).default('text'))
    .option('--out <file>', 'with --format svg or dot: write to this file instead of stdout')
    .option('--json', 'short for --format json')
    .option('--only <kinds>', 'compare only these kinds (comma-separated, repeatable): tasks, fds, maps, objects, images', collect)
    .option('--ignore <fields>', 'leave these fields out (comma-separated, repeatable): pos in every kind, fds.pos in one, ns.net, rlimits.nofile, images.content', collect)
    .addHelpText('after', HELP)
    .action(async (a: string, b: string, opts: DiffCommandOptions, cmd: Command) => {
      const ids = [parseId(a), parseId(b)] as const;
      // the engine loads when a diff runs, not with --help
      const { openDiff } = await import('../../query/diff/engine.js');
      const locationA = storePath(cmd);
      const locationB = opts.dbB ?? locationA;
      // graphs: where each side's checkpoint is read from for --format svg or dot
      const show = async (diff: CheckpointDiff, graphs: readonly [string, string] = [locationA, locationB]) => {
        try {
          // before writing: a reader that goes away ends the process with the status set so far
          if (!diff.identical) process.exitCode = 1;
          if (!opts.json && (opts.format === 'svg' || opts.format === 'dot')) {
            const { diffGraph } = await import('../../query/graph/diffGraph.js');
            const graph = diffGraph(await graphOf(graphs[0], ids[0]), await graphOf(graphs[1], ids[1]), diff.processInfo().values());
            const title = `checkpoint ${ids[1]} against ${ids[0]}: green added, red removed, orange changed`;
            await emit(await graphText(graph, opts.format, title), opts.out);
            return;
          }
          await writeAll(opts.json || opts.format === 'json' ? diffJson(diff) : (await import('../../query/diff/text.js')).diffText(diff));
        } finally {
          diff.close();
        }
      };
      if (!isPostgresLocation(locationA) && !isPostgresLocation(locationB)) {
        await withStore(cmd, 'existing', async (store) => show(await openDiff(store, ids[0], ids[1], { storeB: opts.dbB, only: opts.only, ignore: opts.ignore })));
        return;
      }
      const name = (location: string) => (isPostgresLocation(location) ? redactUrl(location) : location);
      if (locationA === locationB) {
        // both in one PostgreSQL: computed there, in SQL
        const { openPostgresDiff } = await import('../../query/diff/postgres.js');
        await show(await openPostgresDiff(locationA, ids[0], ids[1], { only: opts.only, ignore: opts.ignore }));
        return;
      }
      const { withPulledCheckpoint } = await import('../../store/postgres/scratch.js');
      // a side in PostgreSQL is read into a scratch store of its own, with its ids
      const local = async (location: string, id: number, fn: (path: string) => Promise<void>) =>
        isPostgresLocation(location) ? withPulledCheckpoint(location, id, (_s, path) => fn(path), { hashesOnly: true }) : fn(location);
      await local(locationA, ids[0], (pathA) =>
        local(locationB, ids[1], async (pathB) =>
          show(await openDiff(pathA, ids[0], ids[1], { storeB: pathB, only: opts.only, ignore: opts.ignore, names: { a: name(locationA), b: name(locationB) } }), [pathA, pathB])));
    });
}

/**
 * A checkpoint's graph with every process drawn (the diff graph collapses after
 * marking), read from its store, a file opened read-only or PostgreSQL.
 */
async function graphOf(location: string, id: number): Promise<CheckpointGraph> {
  const { openReader } = await import('../../query/reader.js');
  const reader = await openReader(location);
  try {
    return await reader.graph(id, { collapse: false });
  } finally {
    await reader.close();
  }
}

/**
 * The JSON document of src/query/diff/types.ts, streamed: the head, then each kind's
 * entries one per line as they are read.
 */
function* diffJson(diff: CheckpointDiff): Generator<string> {
  const head = {
    format: 'ckptdb-diff', version: 1, a: diff.a, b: diff.b, kinds: diff.kinds, ignored: diff.ignored,
    identical: diff.identical, summary: diff.summary,
  };
  yield `{\n${Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${jsonValue(v)}`).join(',\n')}`;
  for (const kind of diff.kinds) {
    yield `,\n  ${JSON.stringify(kind)}: {`;
    for (const [i, status] of DIFF_STATUSES.entries()) {
      yield `${i ? ',' : ''}\n    ${JSON.stringify(status)}: [`;
      let n = 0;
      for (const e of diff.entries(kind, status)) yield `${n++ ? ',' : ''}\n      ${jsonValue(e)}`;
      yield n ? '\n    ]' : ']';
    }
    yield '\n  }';
  }
  yield '\n}\n';
}

const CHUNK = 64 * 1024;

/** Writes with back-pressure, in chunks; a reader that went away (EPIPE, `| head`) ends it quietly. */
async function writeAll(parts: Iterable<string>): Promise<void> {
  const out = process.stdout;
  let closed = false;
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  let buffer = '';
  for (const part of parts) {
    buffer += part;
    if (buffer.length < CHUNK) continue;
    if (!out.write(buffer)) await Promise.race([once(out, 'drain'), once(out, 'close')]).catch(() => undefined);
    buffer = '';
    if (closed) return;
  }
  if (buffer && !closed) out.write(buffer);
}
