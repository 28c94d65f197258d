import type { WriterCounts } from '../store/writer/types.js';

export interface CriuRunOptions {
  /** The criu binary; default $CKPTDB_CRIU, then criu on PATH. */
  criu?: string;
  /** --tcp-established: dump or restore established TCP connections (needs iptables). */
  tcpEstablished?: boolean;
  /** --shell-job: the tree belongs to a session or terminal it did not start. */
  shellJob?: boolean;
  /** More arguments for criu, after ckptdb's own. */
  criuArgs?: string[];
  /**
   * Gives up once criu has finished (a criu stopped half-way could leave the processes
   * stopped): nothing is written to the store and the scratch directory goes.
   */
  signal?: AbortSignal;
}

export interface CheckpointOptions extends CriuRunOptions {
  /** The root of the tree to dump, and any of its descendants (they name the same tree). */
  pids: number[];
  /** Dump the descendants too. criu always does; without it, a root that has children is refused. */
  tree?: boolean;
  /** End the tree once it is dumped, as criu dump does without --leave-running. Default: leave it running. */
  kill?: boolean;
  label?: string | null;
  /** Read each process's environment from its memory into tasks.env. Off by default: it may hold secrets. */
  withEnv?: boolean;
  onProgress?: (p: CheckpointProgress) => void;
}

export interface CheckpointProgress {
  phase: 'dump' | 'import';
  /** Bytes of the dump taken into the store so far, and of the whole dump (0 while dumping). */
  done: number;
  total: number;
}

export interface CheckpointResult {
  checkpointId: number;
  /** The root of the tree dumped. */
  pid: number;
  criu: { path: string; version: string };
  counts: WriterCounts;
  /** Files of the dump, their bytes, and the bytes new to the store. */
  files: number;
  bytes: number;
  newBytes: number;
  dumpSeconds: number;
  importSeconds: number;
}

export interface RestoreOptions extends CriuRunOptions {
  /** Let criu leave the tree running on its own (criu restore -d). Default true; false waits until the tree's root exits. */
  detach?: boolean;
  /** Called with the root's pid once the tree runs, before a restore that does not detach returns. */
  onRestored?: (pid: number) => void;
}

export interface RestoreResult {
  checkpointId: number;
  /** The restored tree's root pid. */
  pid: number;
  criu: { path: string; version: string };
  /** Files and bytes written for criu. */
  files: number;
  bytes: number;
  exportSeconds: number;
  restoreSeconds: number;
  /** Without detach: criu's exit status once the tree ended (0: restored; not the tree's own status). */
  exitCode?: number | null;
}
