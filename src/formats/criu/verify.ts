import { hash } from 'node:crypto';
import type { Store } from '../../store/store.js';
import { statement } from '../../store/sqlFile.js';
import { ChunkReader } from '../../store/chunks.js';

export type CriuStorageCheck = 'chunk_unused' | 'chunk_place' | 'chunk_hash' | 'image_size';

/** One thing wrong with the stored CRIU files. */
export interface CriuStorageFinding {
  check: CriuStorageCheck;
  checkpointId: number | null;
  message: string;
}

/**
 * Checks the content-addressed storage of the whole store, or of what one checkpoint
 * uses: no chunk is left that no file uses, every chunk lies inside its pack and still
 * holds the bytes its SHA-256 names (decodes every pack), and every image's chunks add
 * up to its size. Empty when sound.
 */
export function verifyCriuStorage(store: Store, checkpointId?: number): CriuStorageFinding[] {
  const id = checkpointId ?? null;
  const q = (name: string) => store.db.prepare(statement('internal/chunks.sql', name));
  const findings: CriuStorageFinding[] = [];
  for (const r of q('unused_chunks').all({ id }) as { id: number }[]) {
    findings.push({ check: 'chunk_unused', checkpointId: null, message: `chunk ${r.id} is used by no file` });
  }
  const misplaced = new Set<number>();
  for (const r of q('misplaced_chunks').all({ id }) as { id: number; pack_id: number; pack_offset: number; size: number; pack_size: number }[]) {
    misplaced.add(r.id);
    findings.push({ check: 'chunk_place', checkpointId: null, message: `chunk ${r.id} lies at ${r.pack_offset}..${r.pack_offset + r.size} of pack ${r.pack_id}, which holds ${r.pack_size} bytes` });
  }
  const reader = new ChunkReader(store.db);
  const page = q('chunks_to_hash');
  for (let after = { after_pack: -1, after_offset: -1 }; ; ) {
    const chunks = page.all({ id, ...after }) as { id: number; hash: Buffer; pack_id: number; pack_offset: number; size: number }[];
    if (chunks.length === 0) break;
    const last = chunks.at(-1)!;
    after = { after_pack: last.pack_id, after_offset: last.pack_offset };
    findings.push(...hashFindings(reader, chunks, misplaced));
  }
  for (const r of q('image_size_mismatches').all({ id }) as { checkpoint_id: number; name: string; size: number; stored: number }[]) {
    findings.push({ check: 'image_size', checkpointId: r.checkpoint_id, message: `image ${r.name} of checkpoint ${r.checkpoint_id} is ${r.size} bytes but its chunks hold ${r.stored}` });
  }
  return findings;
}

function hashFindings(reader: ChunkReader, chunks: { id: number; hash: Buffer; pack_id: number; pack_offset: number; size: number }[], misplaced: Set<number>): CriuStorageFinding[] {
  const findings: CriuStorageFinding[] = [];
  for (const r of chunks) {
    if (misplaced.has(r.id)) continue;
    let bytes: Buffer;
    try {
      bytes = reader.at(r);
    } catch (e) {
      findings.push({ check: 'chunk_hash', checkpointId: null, message: `chunk ${r.id} cannot be read: ${(e as Error).message}` });
      continue;
    }
    if (!hash('sha256', bytes, 'buffer').equals(r.hash)) {
      findings.push({ check: 'chunk_hash', checkpointId: null, message: `chunk ${r.id} no longer holds the bytes of its SHA-256 ${r.hash.toString('hex')}` });
    }
  }
  return findings;
}
