import { CkptdbError } from '../../errors.js';
import type { ExportFormat, ImportFormat } from '../types.js';
import { detectCriuSource } from './source.js';

/** CRIU's image directories and container checkpoint archives, through the format registry. */
export const criuFormat: ExportFormat & ImportFormat = {
  name: 'criu',
  description: "CRIU's image directory (criu dump -D, criu restore -D); import also reads container checkpoint archives, .tar[.gz|.zst] (podman, CRI-O, Kubernetes)",
  output: 'directory',
  options: ['label', 'withEnv'],
  detect: (path) => path !== '-' && detectCriuSource(path) !== null,
  async importCheckpoint(store, path, opts) {
    // the decoder (protobuf messages, archive readers) loads when an import runs, not with every command
    const { importCriu } = await import('./importCriu.js');
    const r = await importCriu(store, path, { ...(opts.label !== undefined ? { label: opts.label } : {}), env: opts.withEnv ?? false });
    return {
      checkpointId: r.checkpointId, records: r.images, unit: 'files', bytes: r.bytes, newBytes: r.newBytes,
      skipped: r.skipped.map((e) => `${e.name}: ${e.why}`),
    };
  },
  async exportCheckpoint(store, checkpointId, target) {
    if (!('path' in target)) throw new CkptdbError('BAD_ARGUMENT', 'the criu format writes an image directory: name it with --out DIR');
    const { exportCriu } = await import('./exportCriu.js');
    const r = await exportCriu(store, checkpointId, target.path);
    return { checkpointId, records: r.files, unit: 'files', bytes: r.bytes, path: r.dir };
  },
};
