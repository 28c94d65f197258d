import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { CkptdbError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ImportResult } from './image/importer.js';
import { imageDocumentFormat, imageNdjsonFormat } from './image/format.js';
import { treeFormat } from './tree/format.js';

/** Where an export goes: a path (a file, or a directory for tree-shaped formats) or a stream. */
export type ExportTarget = { path: string } | { stream: Writable };

export interface ExportSummary {
  checkpointId: number;
  records: number;
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

/** A way to read a checkpoint into the store. */
export interface ImportFormat {
  name: string;
  description: string;
  /** Whether the path looks like this format; cheap (a stat, a peek), never a full read. */
  detect(path: string): boolean;
  importCheckpoint(store: Store, path: string): Promise<ImportResult>;
}

/** Formats by name; another format (CRIU's images) plugs in with an entry in each list it serves. */
export const EXPORT_FORMATS: readonly ExportFormat[] = [imageDocumentFormat, imageNdjsonFormat, treeFormat];
export const IMPORT_FORMATS: readonly ImportFormat[] = [imageDocumentFormat, imageNdjsonFormat, treeFormat];

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
