import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { labelOf } from '../image/format.js';
import type { ImportResult, RecordImportOptions } from '../image/importer.js';
import type { ExportFormat, ImportFormat } from '../types.js';
import { DONE } from './layout.js';
import { isDirectory } from '../detect.js';

/** Imports a tree written by exportTree as a new checkpoint: all of it, or nothing. */
export async function importTree(store: Store, path: string, opts: RecordImportOptions = {}): Promise<ImportResult> {
  // loaded here, not with every command: the image reader brings a JSON schema validator
  const [{ importRecords }, { TreeReader }] = await Promise.all([import('../image/importer.js'), import('./reader.js')]);
  const reader = new TreeReader(path);
  return importRecords(store, reader.batches(), (ref, field, message) => reader.fail(ref, field, message), opts);
}

export const treeFormat: ExportFormat & ImportFormat = {
  name: 'tree',
  description: "the 2008 proposal's directory tree: checkpoint-ID/ with one small file per value, done last",
  output: 'directory',
  async exportCheckpoint(store, checkpointId, target) {
    if (!('path' in target)) throw new CkptdbError('BAD_ARGUMENT', 'the tree format writes a directory: name it with --out DIR');
    const { exportTree } = await import('./writer.js');
    const { path, records } = exportTree(store, checkpointId, target.path);
    return { checkpointId, records, path };
  },
  detect(path) {
    if (path === '-' || !isDirectory(path)) return false;
    return existsSync(join(path, DONE)) || existsSync(join(path, 'format')) || readdirSync(path).some((e) => /^checkpoint-[0-9]+$/.test(e));
  },
  options: ['label'],
  importCheckpoint: (store, path, opts) => importTree(store, path, labelOf(opts)),
};
