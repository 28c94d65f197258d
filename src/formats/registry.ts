import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { CkptdbError } from '../errors.js';
import type { Store } from '../store/store.js';
import { criuFormat } from './criu/format.js';
import { imageDocumentFormat, imageNdjsonFormat } from './image/format.js';
import { treeFormat } from './tree/format.js';

/** Where an export goes: a path (a file, or a directory for tree-shaped formats) or a stream. */
export type ExportTarget = { path: string } | { stream: Writable };

/** What an import or export counts: records of an image or tree, files of a CRIU image directory. */
export type CountUnit = 'records' | 'files';

export interface ExportSummary {
  checkpointId: number;
  records: number;
  /** What records counts; default 'records'. */
  unit?: CountUnit;
  /** Bytes written, for formats that write one stream. */
  bytes?: number;
  /** What was written: the file, or the directory the format made. */
  path?: string;
}

/** A way to write one checkpoint out of the store. */
export interface ExportFormat {
  name: string;
  description: string;
  /** 'stream': a file or stdout; 'directory': --out names a directory to write into. */
  output: 'stream' | 'directory';
  exportCheckpoint(store: Store, checkpointId: number, target: ExportTarget): Promise<ExportSummary>;
}

/** What an import may be told beyond its input; each format says which of these it takes. */
export interface ImportOptions {
  /** The new checkpoint's label, instead of the one the input carries or implies. */
  label?: string;
  /** Read the processes' environments too, where the input holds them but keeps them apart (CRIU's memory pages). */
  withEnv?: boolean;
}

export type ImportOption = keyof ImportOptions;

export interface ImportSummary {
  checkpointId: number;
  records: number;
  /** What records counts; default 'records'. */
  unit?: CountUnit;
  /** Bytes read, and how many of them the store did not hold before, for formats that keep bytes. */
  bytes?: number;
  newBytes?: number;
}

/** A way to read a checkpoint into the store. */
export interface ImportFormat {
  name: string;
  description: string;
  /** The ImportOptions it takes; given any other, the import is refused. */
  options: readonly ImportOption[];
  /** Whether the path looks like this format; cheap (a stat, a peek), never a full read. */
  detect(path: string): boolean;
  importCheckpoint(store: Store, path: string, options: ImportOptions): Promise<ImportSummary>;
}

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
