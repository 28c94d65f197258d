/** What the chunk store's writer and its workers say to each other. */
export const CHUNK_SIZE = 4096;

export type WorkerRequest =
  | { op: 'hash'; job: number; block: SharedArrayBuffer; length: number }
  | { op: 'pack'; job: number; data: ArrayBuffer; length: number };

export interface HashReply {
  job: number;
  /** The SHA-256 of every page of the block, 32 bytes each, and the id of the store's chunk with it, or 0. */
  result: { hashes: Buffer; ids: Float64Array };
}

export interface PackReply {
  job: number;
  codec: 'none' | 'zstd';
  data: Uint8Array;
}
