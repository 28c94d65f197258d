import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { checkpointImages, type StoredImage } from '../../store/chunks.js';

export type CriuImage = Omit<StoredImage, 'id' | 'head_magic'>;

/** The files a CRIU checkpoint keeps: its images and, for an archive, the container's files. */
export function listCriuImages(store: Store, checkpointId: number): CriuImage[] {
  const cp = store.getCheckpoint(checkpointId);
  if (cp.source !== 'criu') throw new CkptdbError('UNSUPPORTED', `checkpoint ${checkpointId} has source ${cp.source}: it holds no CRIU images`);
  return checkpointImages(store.db, checkpointId).map(({ name, kind, role, size, entries }) => ({ name, kind, role, size, entries }));
}
