/** What every format shares: the shape of an export, an import, and their summaries. */
import type { Writable } from 'node:stream';
import type { Store } from '../store/store.js';

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
  /** Entries of the input left out, as 'name: why' (a CRIU directory's folders, say). */
  skipped?: string[];
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
