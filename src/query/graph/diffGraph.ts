/**
 * The graph of a diff: checkpoint B's graph with what changed from A marked. A process
 * is matched by pid and start time (as the diff matches it): added (only in B),
 * changed (in both, with a change to its tasks, fds or maps), removed (only in A,
 * drawn where it was). An edge is matched by its kind, its two ends and its kernel
 * object: added, removed, or changed when its fds differ.
 */
import type { ProcessInfo } from '../diff/types.js';
import { collapseSiblings } from './collapse.js';
import type { CheckpointGraph, GraphEdge, GraphNode } from './types.js';

const processKey = (pid: number | null, startTime: number | null) => `${pid}:${startTime ?? ''}`;

/** a and b uncollapsed; changed: the processes the diff found a change in. */
export function diffGraph(a: CheckpointGraph, b: CheckpointGraph, changed: Iterable<ProcessInfo>, collapse = true): CheckpointGraph {
  const status = new Map<string, ProcessInfo['status']>();
  for (const p of changed) status.set(processKey(p.pid, p.start_time === null ? null : Number(p.start_time)), p.status);
  const keyOf = (n: GraphNode) => (n.kind === 'process' ? `p:${processKey(n.pid, n.start_time)}` : `o:${n.object}`);

  const inB = new Map(b.nodes.map((n) => [keyOf(n), n]));
  const nodes: GraphNode[] = b.nodes.map((n) => {
    const s = n.kind === 'process' ? status.get(processKey(n.pid, n.start_time)) : undefined;
    return s === 'added' || s === 'changed' ? { ...n, mark: s } : { ...n };
  });
  // A's ids as they are in the merged graph: B's node where it has one, a node of its own where not
  const idOfA = new Map<string, string>();
  for (const n of a.nodes) {
    const there = inB.get(keyOf(n));
    idOfA.set(n.id, there ? there.id : `gone-${n.id}`);
  }
  for (const n of a.nodes) {
    if (inB.has(keyOf(n))) continue;
    nodes.push({ ...n, id: idOfA.get(n.id)!, parent: n.parent === null ? null : (idOfA.get(n.parent) ?? null), mark: 'removed' });
  }
  const edgeKey = (e: GraphEdge, from: string, to: string) => `${e.kind}|${from}|${to}|${e.object}`;
  const edgesA = new Map(a.edges.map((e) => [edgeKey(e, idOfA.get(e.from)!, idOfA.get(e.to)!), e]));
  const edges: GraphEdge[] = b.edges.map((e) => {
    const before = edgesA.get(edgeKey(e, e.from, e.to));
    if (!before) return { ...e, mark: 'added' };
    return before.label === e.label ? { ...e } : { ...e, mark: 'changed' };
  });
  const inBEdges = new Set(b.edges.map((e) => edgeKey(e, e.from, e.to)));
  for (const [key, e] of edgesA) {
    if (!inBEdges.has(key)) edges.push({ ...e, from: idOfA.get(e.from)!, to: idOfA.get(e.to)!, mark: 'removed' });
  }
  const graph: CheckpointGraph = { ...b, nodes, edges };
  return collapse ? collapseSiblings(graph) : graph;
}
