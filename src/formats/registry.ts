import { statSync } from 'node:fs';
import { CkptdbError } from '../errors.js';
import { criuFormat } from './criu/format.js';
import { imageDocumentFormat, imageNdjsonFormat } from './image/format.js';
import { treeFormat } from './tree/format.js';
import type { ExportFormat, ImportFormat, ImportOption, ImportOptions } from './types.js';

export type * from './types.js';

/**
 * Formats by name; a format plugs in with an entry in each list it serves. Detection
 * asks the import formats in order and takes the first that recognises the path: CRIU's
 * comes first, since the image's takes any file.
 */
export const EXPORT_FORMATS: readonly ExportFormat[] = [imageDocumentFormat, imageNdjsonFormat, treeFormat, criuFormat];
export const IMPORT_FORMATS: readonly ImportFormat[] = [criuFormat, imageDocumentFormat, imageNdjsonFormat, treeFormat];

export function exportFormat(name: string): ExportFormat {
  const f = EXPORT_FORMATS.find((x) => x.name === name);
  if (!f) throw new CkptdbError('BAD_ARGUMENT', `--format ${name}: expected one of ${EXPORT_FORMATS.map((x) => x.name).join(', ')}`);
  return f;
}

/** The named import format, or the one whose detect() recognises the path. */
export function importFormat(path: string, name?: string): ImportFormat {
  if (name !== undefined) {
    const f = IMPORT_FORMATS.find((x) => x.name === name);
    if (!f) throw new CkptdbError('BAD_ARGUMENT', `--format ${name}: expected one of ${IMPORT_FORMATS.map((x) => x.name).join(', ')}`);
    return f;
  }
  if (path !== '-') {
    try {
      statSync(path);
    } catch (e) {
      throw new CkptdbError('BAD_ARGUMENT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  }
  const found = IMPORT_FORMATS.filter((f) => f.detect(path));
  if (found.length === 0) {
    throw new CkptdbError('BAD_ARGUMENT', `${path}: not in a format ckptdb imports`, `name one with --format (${IMPORT_FORMATS.map((x) => x.name).join(', ')})`);
  }
  return found[0]!;
}

/** Refuses an option the format does not take, naming the formats that do. */
export function checkImportOptions(format: ImportFormat, options: ImportOptions, flag: (option: ImportOption) => string): void {
  for (const option of Object.keys(options) as ImportOption[]) {
    if (options[option] === undefined || format.options.includes(option)) continue;
    const takers = IMPORT_FORMATS.filter((f) => f.options.includes(option)).map((f) => f.name);
    throw new CkptdbError('BAD_ARGUMENT', `${flag(option)} does not apply to the ${format.name} format`, `it applies to ${takers.join(', ')}`);
  }
}
