import type Database from 'better-sqlite3';
import { statement } from '../../store/sqlFile.js';
import type { ImageRole } from '../../store/chunks.js';

/** What a checkpoint keeps of CRIU's files, and how much of it other checkpoints share. */
export interface CriuStorageSummary {
  /** Files and their bytes, per role (modelled, stored, raw, other, container). */
  roles: { role: ImageRole; files: number; bytes: number }[];
  files: number;
  /** Bytes of all files, as CRIU wrote them. */
  bytes: number;
  /** Distinct 4 KiB chunks the files are made of, and their bytes: what the store holds for them. */
  chunks: number;
  chunkBytes: number;
  /** The chunks that files of other checkpoints hold too: what deleting this one would not free. */
  sharedChunks: number;
  sharedBytes: number;
}

/** Reads through the connection of a store or of a read-only query session: it only reads. */
export function criuStorageSummary(source: { db: Database.Database }, checkpointId: number): CriuStorageSummary {
  const q = (name: string, file = 'internal/criu.sql') => source.db.prepare(statement(file, name));
  const roles = q('checkpoint_files_by_role').all({ checkpoint_id: checkpointId }) as CriuStorageSummary['roles'];
  const c = q('checkpoint_chunks', 'internal/chunks.sql').get({ checkpoint_id: checkpointId }) as { chunks: number; chunk_bytes: number; shared_chunks: number; shared_bytes: number };
  return {
    roles,
    files: roles.reduce((n, r) => n + r.files, 0),
    bytes: roles.reduce((n, r) => n + r.bytes, 0),
    chunks: c.chunks,
    chunkBytes: c.chunk_bytes,
    sharedChunks: c.shared_chunks,
    sharedBytes: c.shared_bytes,
  };
}
