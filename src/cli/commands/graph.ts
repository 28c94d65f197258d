import { Option, type Command } from 'commander';
import { writeToFile, writeToStream } from '../../formats/output.js';
import type { CheckpointGraph } from '../../query/graph/types.js';
import { parseId, say } from '../context.js';
import { jsonValue } from '../render.js';
import { addHostOption, hostOf, withReader } from '../session.js';

const HELP = `
Processes are nodes, drawn under their parents and grouped in a box per process tree.
Edges are what connects two processes: pipes (from the writer to the reader), FIFOs,
unix socket peers, TCP connections between two captured processes, open files shared
by several processes, and address spaces or fd tables shared between processes (vfork,
CLONE_VM, CLONE_FILES). Each edge is labelled with its fds at each end: "pipe 1→0",
"unix 3↔4", "tcp :45678↔:8080 5↔6". An object held by three processes or more is a
node of its own, with an edge to each. Identical sibling processes (same name, threads
and connections, no children: the workers of a pool) are drawn once with a count
("worker ×40"); --no-collapse draws each. Every pid is named in the SVG: in the label,
or in the tooltip of a collapsed node.

--format svg lays the graph out in this process (Graphviz as WebAssembly; no system
Graphviz needed); dot gives the Graphviz source; json the nodes and edges (see
src/query/graph/types.ts). The output goes to stdout, or to --out FILE (mode 0600: it
holds command lines).

On a PostgreSQL store (--db postgres://...) the checkpoint is read into a scratch store
of its own first (a private folder, removed after), and drawn from there.

Examples:
  $ ckptdb graph --out tree.svg             the newest checkpoint
  $ ckptdb graph 3 --pid 4242 --format dot  the subtree of process 4242
  $ ckptdb graph --format json | jq '.edges[] | select(.kind == "tcp")'
  $ ckptdb diff 1 2 --format svg > changes.svg
`;

export type GraphFormat = 'svg' | 'dot' | 'json';

/** The graph in the chosen format, as text. */
export async function graphText(graph: CheckpointGraph, format: GraphFormat, title: string): Promise<string> {
  if (format === 'json') return `${jsonValue(graph, 2)}\n`;
  // the drawing (Graphviz as WebAssembly for svg) loads when a graph is drawn, not with --help
  const { graphDot } = await import('../../query/graph/dot.js');
  const dot = graphDot(graph, title);
  return format === 'dot' ? dot : (await import('../../query/graph/svg.js')).dotToSvg(dot);
}

/** Writes text to --out (0600) or stdout. */
export async function emit(text: string, out: string | undefined): Promise<void> {
  if (out) {
    const bytes = writeToFile([text], out);
    say(`wrote ${out} (${bytes} bytes)`);
  } else {
    await writeToStream([text], process.stdout);
  }
}

export function register(program: Command): void {
  addHostOption(program
    .command('graph'))
    .argument('[id]', 'checkpoint id; default: the newest')
    .description('draw who talks to whom in a checkpoint: processes, and the pipes, sockets, shared files and address spaces between them')
    .option('--pid <pid>', 'only this process and its descendants')
    .addOption(new Option('--format <format>', 'svg, dot or json').choices(['svg', 'dot', 'json']).default('svg'))
    .option('--no-collapse', 'draw every process, also identical siblings')
    .option('--out <file>', 'write to this file instead of stdout')
    .addHelpText('after', HELP)
    .action(async (id: string | undefined, opts: { pid?: string; format: GraphFormat; collapse: boolean; out?: string }, cmd: Command) => {
      const pid = opts.pid === undefined ? undefined : parseId(opts.pid, 'pid');
      const checkpoint = id === undefined ? undefined : parseId(id);
      const { graph, title } = await withReader(cmd, async (reader) => {
        const d = await reader.describe(checkpoint, hostOf(cmd));
        const g = await reader.graph(d.id, { pid, collapse: opts.collapse });
        return { graph: g, title: `checkpoint ${d.id}${d.label ? ` "${d.label}"` : ''} (${d.source}, ${d.started_at})` };
      });
      await emit(await graphText(graph, opts.format, title), opts.out);
    });
}
