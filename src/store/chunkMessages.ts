/** What the chunk store's writer and reader and their workers say to each other. */
export const CHUNK_SIZE = 4096;

export type WorkerRequest =
  /** With read, the worker first reads the block from the file fd (path) at position. */
  | { op: 'hash'; job: number; block: SharedArrayBuffer; length: number; read?: { fd: number; position: number; path: string } }
  | { op: 'pack'; job: number; data: ArrayBuffer; length: number }
  /** Chunks from seq from to before seq to of a committed image, written into the file at path from position. */
  | { op: 'write'; job: number; imageId: number; from: number; to: number; path: string; position: number };

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

export interface WriteReply {
  job: number;
  /** Bytes written. */
  bytes: number;
}
