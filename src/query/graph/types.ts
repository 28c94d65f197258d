/**
 * The graph of a checkpoint, as `ckptdb graph --format json` prints it and the library
 * returns it: processes are nodes, the kernel objects that connect them are edges.
 *
 * ```json
 * { "format": "ckptdb-graph", "version": 1, "checkpoint": 3,
 *   "nodes": [{ "id": "p100", "kind": "process", "pid": 100, "pids": [100], "parent": null, "comm": "sh", "threads": 1, … },
 *             { "id": "p101", "kind": "process", "pid": 101, "pids": [101], "parent": "p100", "comm": "cat", … }],
 *   "edges": [{ "kind": "pipe", "from": "p100", "to": "p101", "directed": true, "label": "pipe 1→0",
 *               "fds": { "from": [1], "to": [0] }, "object": "pipe:[4711]", "count": 1 }] }
 * ```
 */

/** What connects two nodes. */
export type EdgeKind = 'pipe' | 'fifo' | 'unix' | 'tcp' | 'file' | 'mm' | 'fdtable';
export const EDGE_KINDS: readonly EdgeKind[] = ['pipe', 'fifo', 'unix', 'tcp', 'file', 'mm', 'fdtable'];

/** In the graph of a diff: what happened to a node or edge from A to B. */
export type Mark = 'added' | 'removed' | 'changed';

export interface GraphNode {
  /** p<pid> for a process; o<object id> for an object that connects three processes or more. */
  id: string;
  kind: 'process' | 'object';
  /** A process: its pid (the first of pids when identical siblings were collapsed). */
  pid: number | null;
  /** Every process this node stands for: one, or the collapsed identical siblings. */
  pids: number[];
  /** How many processes this node stands for. */
  count: number;
  /** The node of the parent process, when the parent is in the graph. */
  parent: string | null;
  comm: string | null;
  threads: number | null;
  command: string | null;
  /** The main thread's start time (clock ticks after boot): with pid, what identifies a process across checkpoints. */
  start_time: number | null;
  /** An object node: its kind (pipe, fifo, file, mm, fdtable) and key or path. */
  object: string | null;
  mark?: Mark;
}

export interface GraphEdge {
  kind: EdgeKind;
  from: string;
  to: string;
  /** A pipe or FIFO goes from its writer to its reader; the other kinds have no direction. */
  directed: boolean;
  label: string;
  /** The fds each end holds the object by (empty for mm and fdtable). */
  fds: { from: number[]; to: number[] };
  /** The kernel object: 'pipe:[4711]', a FIFO's path, 'socket:[…]↔socket:[…]', a file's path, an mm or fd table key. */
  object: string;
  /** How many edges this one stands for, after identical siblings were collapsed. */
  count: number;
  mark?: Mark;
}

export interface CheckpointGraph {
  format: 'ckptdb-graph';
  version: 1;
  checkpoint: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface GraphOptions {
  /** Only this process and its descendants, and the edges among them. */
  pid?: number;
  /** Collapse identical sibling leaves (same name, threads and edges) into one node with a count. Default true. */
  collapse?: boolean;
}
