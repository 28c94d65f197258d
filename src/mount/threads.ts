/** What the mount's main thread and its serving threads (worker.ts) say to each other. */

export interface WorkerData {
  fd: number;
  store: string;
  /** [0]: set to STOP to end serving; [1]: GO once mounted, STOP if the mount failed. */
  control: Int32Array;
  uid: number;
  gid: number;
}

export const STOP = 1;
export const GO = 2;

export type WorkerMessage =
  | { ready: true }
  | { failed: string }
  | { error: string }
  | { end: 'unmounted' | 'stopped' };
