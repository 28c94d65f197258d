import type { Store } from '../../store/store.js';
import { statement } from '../../store/sqlFile.js';

/** One thing wrong with the stored CRIU files. */
export interface CriuStorageFinding {
  checkpointId: number | null;
  message: string;
}

/**
 * Checks the content-addressed storage: every chunk's refcount equals the images that
 * point at it, and every image's chunks add up to its size. Empty when sound.
 */
export function verifyCriuStorage(store: Store): CriuStorageFinding[] {
  const q = (name: string) => store.db.prepare(statement('internal/criu.sql', name)).all() as Record<string, number | string>[];
  return [
    ...q('chunk_refcount_mismatches').map((r) => ({ checkpointId: null, message: `chunk ${r.id} has refcount ${r.refcount} but ${r.counted} references` })),
    ...q('image_size_mismatches').map((r) => ({ checkpointId: Number(r.checkpoint_id), message: `image ${r.name} of checkpoint ${r.checkpoint_id} is ${r.size} bytes but its chunks hold ${r.stored}` })),
  ];
}
