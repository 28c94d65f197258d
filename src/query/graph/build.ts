/**
 * The graph of a checkpoint from its rows (sql/internal/graph.sql): a node per
 * process, an edge per connection between two processes. An object that connects
 * three processes or more (a pipe many workers write to, a file a whole tree
 * inherited) becomes a node of its own with an edge to each, so that n holders cost n
 * edges, not n².
 */
import type Database from 'better-sqlite3';
import { CkptdbError } from '../../errors.js';
import { statement } from '../../store/sqlFile.js';
import { collapseSiblings } from './collapse.js';
import { edgeLabel } from './labels.js';
import type { CheckpointGraph, EdgeKind, GraphEdge, GraphNode, GraphOptions } from './types.js';

type Row = Record<string, unknown>;

/** The fds each process holds an object by. */
type Holders = Map<number, number[]>;

class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly edges: GraphEdge[] = [];
  private readonly keep: Set<number>;

  constructor(processes: Row[], pid: number | undefined) {
    const pids = new Set(processes.map((p) => Number(p.pid)));
    this.keep = pid === undefined ? pids : subtree(processes, pid);
    for (const p of processes) {
      const n = Number(p.pid);
      if (!this.keep.has(n)) continue;
      const ppid = p.ppid === null ? null : Number(p.ppid);
      this.nodes.push({
        id: `p${n}`, kind: 'process', pid: n, pids: [n], count: 1,
        parent: ppid !== null && this.keep.has(ppid) && ppid !== n ? `p${ppid}` : null,
        comm: (p.comm as string | null) ?? null, threads: p.threads === null ? null : Number(p.threads),
        command: (p.command as string | null) ?? null, start_time: p.start_time === null ? null : Number(p.start_time), object: null,
      });
    }
  }

  /** The holders inside the graph. */
  private within(h: Holders): Holders {
    return new Map([...h].filter(([pid]) => this.keep.has(pid)));
  }

  private edge(kind: EdgeKind, from: string, to: string, fds: { from: number[]; to: number[] }, object: string, detail = ''): void {
    this.edges.push({ kind, from, to, directed: kind === 'pipe' || kind === 'fifo', label: edgeLabel(kind, fds.from, fds.to, detail), fds, object, count: 1 });
  }

  private objectNode(id: string, object: string): string {
    this.nodes.push({ id, kind: 'object', pid: null, pids: [], count: 1, parent: null, comm: null, threads: null, command: null, start_time: null, object });
    return id;
  }

  /** A pipe or FIFO: writer → reader between two processes, through a node of its own for more. */
  pipe(objectId: number, object: string, fifo: boolean, reads: Holders, writes: Holders): void {
    const r = this.within(reads);
    const w = this.within(writes);
    const pids = new Set([...r.keys(), ...w.keys()]);
    if (pids.size < 2) return;
    const kind: EdgeKind = fifo ? 'fifo' : 'pipe';
    const detail = fifo ? object : '';
    if (pids.size === 2) {
      for (const [wp, wfds] of w) for (const [rp, rfds] of r) if (wp !== rp) this.edge(kind, `p${wp}`, `p${rp}`, { from: wfds, to: rfds }, object, detail);
      return;
    }
    const node = this.objectNode(`o${objectId}`, object);
    for (const [wp, wfds] of w) this.edge(kind, `p${wp}`, node, { from: wfds, to: [] }, object);
    for (const [rp, rfds] of r) this.edge(kind, node, `p${rp}`, { from: [], to: rfds }, object);
  }

  /** Two ends of a connection (unix peers, TCP): an edge between every process on one end and every other on the other. */
  pair(kind: EdgeKind, object: string, a: Holders, b: Holders, detail: string): void {
    for (const [ap, afds] of this.within(a)) {
      for (const [bp, bfds] of this.within(b)) {
        if (ap === bp) continue;
        const [from, to, fds] = ap < bp ? [ap, bp, { from: afds, to: bfds }] : [bp, ap, { from: bfds, to: afds }];
        this.edge(kind, `p${from}`, `p${to}`, fds, object, detail);
      }
    }
  }

  /** An object several processes hold (an open file, an address space, an fd table): one edge for two, a node for more. */
  shared(kind: EdgeKind, objectId: number, object: string, holders: Holders, detail: string): void {
    const h = [...this.within(holders)].sort((x, y) => x[0] - y[0]);
    if (h.length < 2) return;
    if (h.length === 2) {
      this.edge(kind, `p${h[0]![0]}`, `p${h[1]![0]}`, { from: h[0]![1], to: h[1]![1] }, object, detail);
      return;
    }
    const node = this.objectNode(`o${objectId}`, object);
    for (const [pid, fds] of h) this.edge(kind, `p${pid}`, node, { from: fds, to: [] }, object);
  }
}

/** A process and its descendants. */
function subtree(processes: Row[], pid: number): Set<number> {
  if (!processes.some((p) => Number(p.pid) === pid)) throw new CkptdbError('NO_SUCH_PROCESS', `process ${pid} is not in the checkpoint`);
  const children = new Map<number, number[]>();
  for (const p of processes) {
    const parent = Number(p.ppid);
    children.set(parent, [...(children.get(parent) ?? []), Number(p.pid)]);
  }
  const keep = new Set<number>();
  const todo = [pid];
  while (todo.length) {
    const n = todo.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    todo.push(...(children.get(n) ?? []));
  }
  return keep;
}

/** Rows grouped by a key, each group's fds by process. */
function groupHolders(rows: Row[], key: (r: Row) => number, pid: string, fd: string, take: (r: Row) => boolean = () => true): Map<number, Holders> {
  const groups = new Map<number, Holders>();
  for (const r of rows) {
    if (!take(r)) continue;
    const k = key(r);
    const holders = groups.get(k) ?? new Map<number, number[]>();
    groups.set(k, holders);
    const p = Number(r[pid]);
    const list = holders.get(p) ?? [];
    const f = Number(r[fd]);
    if (!list.includes(f)) list.push(f);
    holders.set(p, list.sort((a, b) => a - b));
  }
  return groups;
}

/** The graph of checkpoint `id` on a connection to its store. */
export function buildGraph(db: Database.Database, id: number, opts: GraphOptions = {}): CheckpointGraph {
  const rows = (name: string) => db.prepare(statement('internal/graph.sql', name)).all({ id }) as Row[];
  const g = new GraphBuilder(rows('processes'), opts.pid);

  const pipes = rows('pipe_ends');
  const first = new Map(pipes.map((r) => [Number(r.object_id), r]));
  const reads = groupHolders(pipes, (r) => Number(r.object_id), 'pid', 'fd', (r) => Number(r.reads) === 1);
  const writes = groupHolders(pipes, (r) => Number(r.object_id), 'pid', 'fd', (r) => Number(r.writes) === 1);
  for (const [objectId, r] of first) {
    const path = r.path as string | null;
    g.pipe(objectId, path ?? (r.key as string), path !== null, reads.get(objectId) ?? new Map(), writes.get(objectId) ?? new Map());
  }

  for (const [kind, name] of [['unix', 'unix_peers'], ['tcp', 'tcp_pairs']] as const) {
    const pairs = rows(name);
    const byPair = new Map<string, Row>();
    for (const r of pairs) byPair.set(`${r.a_id}:${r.b_id}`, r);
    const a = groupHolders(pairs, (r) => Number(r.a_id), 'a_pid', 'a_fd');
    const b = groupHolders(pairs, (r) => Number(r.b_id), 'b_pid', 'b_fd');
    for (const r of byPair.values()) {
      const detail = kind === 'tcp' ? `:${String(r.a_port)}↔:${String(r.b_port)}` : '';
      const [aHolders, bHolders] = [a.get(Number(r.a_id))!, b.get(Number(r.b_id))!];
      // the edge's object names the pair; the end of the lower pid is written first
      g.pair(kind, `${String(r.a_key)}↔${String(r.b_key)}`, aHolders, bHolders, detail);
    }
  }

  const files = rows('shared_files');
  const fileInfo = new Map(files.map((r) => [Number(r.object_id), r]));
  for (const [objectId, holders] of groupHolders(files, (r) => Number(r.object_id), 'pid', 'fd')) {
    const path = (fileInfo.get(objectId)!.path as string | null) ?? String(fileInfo.get(objectId)!.key);
    g.shared('file', objectId, path, holders, path);
  }

  const tasks = rows('shared_tasks');
  const taskInfo = new Map(tasks.map((r) => [Number(r.object_id), r]));
  const users = new Map<number, Holders>();
  for (const r of tasks) {
    const k = Number(r.object_id);
    users.set(k, (users.get(k) ?? new Map()).set(Number(r.pid), []));
  }
  for (const [objectId, holders] of users) {
    const r = taskInfo.get(objectId)!;
    g.shared(r.kind as EdgeKind, objectId, `${String(r.kind)} ${String(r.key)}`, holders, '');
  }

  const graph: CheckpointGraph = { format: 'ckptdb-graph', version: 1, checkpoint: id, nodes: g.nodes, edges: g.edges };
  return opts.collapse === false ? graph : collapseSiblings(graph);
}
