import { hash } from 'node:crypto';
import type { Store } from '../../store/store.js';
import { statement } from '../../store/sqlFile.js';

export type CriuStorageCheck = 'chunk_refcount' | 'chunk_hash' | 'image_size';

/** One thing wrong with the stored CRIU files. */
export interface CriuStorageFinding {
  check: CriuStorageCheck;
  checkpointId: number | null;
  message: string;
}

/**
 * Checks the content-addressed storage of the whole store, or of what one checkpoint
 * uses: every chunk's refcount equals the images that point at it, every chunk still
 * holds the bytes its SHA-256 names (reads every chunk), and every image's chunks add
 * up to its size. Empty when sound.
 */
export function verifyCriuStorage(store: Store, checkpointId?: number): CriuStorageFinding[] {
  const id = checkpointId ?? null;
  const q = (name: string) => store.db.prepare(statement('internal/criu.sql', name));
  const findings: CriuStorageFinding[] = [];
  for (const r of q('chunk_refcount_mismatches').all({ id }) as { id: number; refcount: number; counted: number }[]) {
    findings.push({ check: 'chunk_refcount', checkpointId: null, message: `chunk ${r.id} has refcount ${r.refcount} but ${r.counted} references` });
  }
  for (const r of q('chunks_to_hash').iterate({ id }) as IterableIterator<{ id: number; hash: Buffer; data: Buffer }>) {
    if (!hash('sha256', r.data, 'buffer').equals(r.hash)) {
      findings.push({ check: 'chunk_hash', checkpointId: null, message: `chunk ${r.id} no longer holds the bytes of its SHA-256 ${r.hash.toString('hex')}` });
    }
  }
  for (const r of q('image_size_mismatches').all({ id }) as { checkpoint_id: number; name: string; size: number; stored: number }[]) {
    findings.push({ check: 'image_size', checkpointId: r.checkpoint_id, message: `image ${r.name} of checkpoint ${r.checkpoint_id} is ${r.size} bytes but its chunks hold ${r.stored}` });
  }
  return findings;
}
