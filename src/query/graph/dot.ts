/**
 * The graph as Graphviz DOT: a cluster per process tree (a root and its descendants),
 * parents above their children joined by thin grey lines, and the connections drawn
 * over them, each kind in its own colour, without moving the tree's layout. Graphviz
 * puts separate trees side by side: past a few, that is too wide to read, so a forest
 * is drawn from left to right instead, one tree under the other. In the
 * graph of a diff, what was added is green, what was removed red and dashed, a process
 * with something changed orange.
 */
import type { CheckpointGraph, EdgeKind, GraphEdge, GraphNode, Mark } from './types.js';

const EDGE_STYLE: Record<EdgeKind, string> = {
  pipe: 'color="#1f77b4", fontcolor="#1f77b4"',
  fifo: 'color="#17becf", fontcolor="#0f7f8a"',
  unix: 'color="#9467bd", fontcolor="#9467bd", dir=both',
  tcp: 'color="#2ca02c", fontcolor="#2ca02c", dir=both',
  file: 'color="#7f7f7f", fontcolor="#555555", style=dashed, dir=none',
  mm: 'color="#d62728", fontcolor="#d62728", penwidth=2, dir=none',
  fdtable: 'color="#ff7f0e", fontcolor="#c05f00", penwidth=2, dir=none',
};

const NODE_MARK: Record<Mark, string> = {
  added: 'fillcolor="#d9f2d9", color="#2ca02c", penwidth=2',
  removed: 'fillcolor="#f8d7d7", color="#d62728", style="rounded,filled,dashed", penwidth=2',
  changed: 'fillcolor="#ffe9c7", color="#ff7f0e", penwidth=2',
};

const EDGE_MARK: Record<Mark, string> = {
  added: 'color="#2ca02c", penwidth=2.5',
  removed: 'color="#d62728", style=dashed, penwidth=2.5',
  changed: 'penwidth=2.5',
};

/** A DOT string: quotes, backslashes and line breaks escaped. */
function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Pids in a label: all of a few, the first and last of many. */
function pidList(pids: number[]): string {
  const sorted = [...pids].sort((a, b) => a - b);
  return sorted.length <= 4 ? sorted.join(' ') : `${sorted[0]} ${sorted[1]} … ${sorted.at(-1)}`;
}

function nodeLabel(n: GraphNode): string {
  if (n.kind === 'object') return n.object ?? '';
  const threads = n.threads && n.threads > 1 ? `\n${n.threads} threads` : '';
  if (n.count > 1) return `${n.comm ?? '?'} ×${n.count}\n${pidList(n.pids)}${threads}`;
  return `${n.comm ?? '?'} ${n.pid}${threads}`;
}

/** The tooltip (an SVG title): every pid the node stands for, and the command line. */
function nodeTooltip(n: GraphNode): string {
  if (n.kind === 'object') return n.object ?? '';
  const pids = n.count > 1 ? `pids ${[...n.pids].sort((a, b) => a - b).join(' ')}` : `pid ${n.pid}`;
  return `${pids}${n.command ? `\n${n.command}` : ''}`;
}

function nodeLine(n: GraphNode): string {
  const shape = n.kind === 'object' ? ', shape=note, style=filled, fillcolor="#ffffff"' : '';
  const mark = n.mark ? `, ${NODE_MARK[n.mark]}` : '';
  return `${q(n.id)} [label=${q(nodeLabel(n))}, tooltip=${q(nodeTooltip(n))}${shape}${mark}];`;
}

/** Edges of one kind and mark between the same two nodes are drawn as one, their labels one per line. */
function edgeLines(edges: GraphEdge[]): string[] {
  const bundles = new Map<string, GraphEdge[]>();
  for (const e of edges) {
    const key = `${e.from}\n${e.to}\n${e.kind}\n${e.mark ?? ''}`;
    bundles.set(key, [...(bundles.get(key) ?? []), e]);
  }
  return [...bundles.values()].map((bundle) => {
    const e = bundle[0]!;
    const mark = e.mark ? `, ${EDGE_MARK[e.mark]}` : '';
    const label = bundle.map((x) => x.label).join('\n');
    const tooltip = bundle.map((x) => `${x.kind} ${x.object}`).join('\n');
    return `${q(e.from)} -> ${q(e.to)} [label=${q(label)}, tooltip=${q(tooltip)}, constraint=false, ${EDGE_STYLE[e.kind]}${mark}];`;
  });
}

/** More trees than this are drawn one under the other. */
const FOREST = 4;

export function graphDot(g: CheckpointGraph, title: string): string {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const rootOf = (n: GraphNode): GraphNode => {
    let r = n;
    for (let depth = 0; r.parent !== null && depth < 4096; depth++) r = byId.get(r.parent) ?? r;
    return r;
  };
  const trees = new Map<string, GraphNode[]>();
  const loose: GraphNode[] = [];
  // an object node goes into the box of the tree all its processes are in, if there is one
  const neighbours = new Map<string, Set<string>>();
  for (const e of g.edges) {
    for (const [end, other] of [[e.from, e.to], [e.to, e.from]] as const) neighbours.set(end, (neighbours.get(end) ?? new Set()).add(other));
  }
  for (const n of g.nodes) {
    const roots = n.kind === 'process' ? new Set([rootOf(n).id]) : new Set([...(neighbours.get(n.id) ?? [])].map((id) => rootOf(byId.get(id)!).id));
    if (roots.size !== 1) {
      loose.push(n);
      continue;
    }
    const root = [...roots][0]!;
    trees.set(root, [...(trees.get(root) ?? []), n]);
  }
  const rankdir = trees.size > FOREST ? 'LR' : 'TB';
  const lines = [
    'digraph ckptdb {',
    `  graph [label=${q(title)}, labelloc=t, fontname="Helvetica", fontsize=12, rankdir=${rankdir}, nodesep=0.25, ranksep=0.5, newrank=true, pad=0.3];`,
    '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f8", color="#8899aa", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=8, arrowsize=0.6];',
  ];
  for (const [root, nodes] of trees) {
    if (nodes.filter((n) => n.kind === 'process').length === 1) {
      for (const n of nodes) lines.push(`  ${nodeLine(n)}`);
      continue;
    }
    const r = byId.get(root)!;
    lines.push(`  subgraph ${q(`cluster_${root}`)} {`, `    label=${q(`tree of ${r.comm ?? '?'} ${r.pid}`)}; style="rounded"; color="#c8d0d8"; fontsize=10;`);
    for (const n of nodes) lines.push(`    ${nodeLine(n)}`);
    lines.push('  }');
  }
  for (const n of loose) lines.push(`  ${nodeLine(n)}`);
  for (const n of g.nodes) {
    if (n.parent !== null && byId.has(n.parent)) lines.push(`  ${q(n.parent)} -> ${q(n.id)} [color="#c0c8d0", arrowhead=none];`);
  }
  for (const line of edgeLines(g.edges)) lines.push(`  ${line}`);
  lines.push('}', '');
  return lines.join('\n');
}
