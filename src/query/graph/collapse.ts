/**
 * Identical siblings as one node: the workers of a pool, forked alike, drawn once with
 * a count, so that a checkpoint of hundreds of processes stays readable. Siblings are
 * identical when they have the same parent, name and thread count, no children, and
 * the same connections: of the same kinds, in the same direction, to the same other
 * nodes. The fd numbers may differ (a parent holds each worker's pipe by another fd):
 * the edge that stands for them all lists the fds of every one.
 */
import { edgeLabel } from './labels.js';
import type { CheckpointGraph, GraphEdge, GraphNode } from './types.js';

/** The other end of an edge, and which side of it the node is on. */
function side(e: GraphEdge, node: string): { other: string; out: boolean; own: number[]; theirs: number[] } {
  const out = e.from === node;
  return { other: out ? e.to : e.from, out, own: out ? e.fds.from : e.fds.to, theirs: out ? e.fds.to : e.fds.from };
}

export function collapseSiblings(g: CheckpointGraph): CheckpointGraph {
  const parents = new Set(g.nodes.map((n) => n.parent).filter((p) => p !== null));
  const incident = new Map<string, GraphEdge[]>();
  for (const e of g.edges) {
    for (const end of [e.from, e.to]) incident.set(end, [...(incident.get(end) ?? []), e]);
  }
  const groups = new Map<string, GraphNode[]>();
  for (const n of g.nodes) {
    if (n.kind !== 'process' || parents.has(n.id) || n.parent === null) continue;
    const edges = (incident.get(n.id) ?? []).map((e) => {
      const s = side(e, n.id);
      return `${e.kind}|${s.out ? '>' : '<'}|${s.other}|${e.mark ?? ''}`;
    });
    const signature = [n.parent, n.comm, n.threads, n.mark ?? '', ...edges.sort()].join('\n');
    groups.set(signature, [...(groups.get(signature) ?? []), n]);
  }
  const gone = new Set<string>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const [keep, ...rest] = group;
    keep!.count = group.length;
    keep!.pids = group.flatMap((n) => n.pids);
    for (const n of rest) gone.add(n.id);
    // each kept edge stands for one edge of every sibling: the other side's fds are all of theirs
    for (const e of incident.get(keep!.id) ?? []) {
      const s = side(e, keep!.id);
      const matching = rest.flatMap((n) => (incident.get(n.id) ?? []).filter((x) => x.kind === e.kind).map((x) => side(x, n.id)).filter((x) => x.other === s.other && x.out === s.out));
      const union = (lists: number[][]) => [...new Set(lists.flat())].sort((a, b) => a - b);
      const theirs = union([s.theirs, ...matching.map((x) => x.theirs)]);
      const own = union([s.own, ...matching.map((x) => x.own)]);
      e.count = group.length;
      e.fds = s.out ? { from: own, to: theirs } : { from: theirs, to: own };
      e.label = `${edgeLabel(e.kind, e.fds.from, e.fds.to)} ×${group.length}`;
    }
  }
  return {
    ...g,
    nodes: g.nodes.filter((n) => !gone.has(n.id)),
    edges: g.edges.filter((e) => !gone.has(e.from) && !gone.has(e.to)),
  };
}
