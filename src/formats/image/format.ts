import type { Store } from '../../store/store.js';
import { writeToFile, writeToStream } from '../output.js';
import type { ExportFormat, ExportSummary, ExportTarget, ImportFormat, ImportOptions } from '../types.js';
import type { RecordText } from './exporter.js';
import type { ImageForm, ImageRecord } from './types.js';
import { isDirectory } from '../detect.js';

/** Writes checkpoint ID as an image in one form, to a new file or a stream. */
export async function exportImage(store: Store, checkpointId: number, form: ImageForm, target: ExportTarget): Promise<ExportSummary> {
  // the exporter (CRIU's protobuf messages among its records) loads when an export runs, not with every command
  const [{ restoreOrderRecords }, { imageText }] = await Promise.all([import('./exporter.js'), import('./serialize.js')]);
  let records = 0;
  const counted = function* (rs: Iterable<ImageRecord | RecordText>) {
    for (const r of rs) {
      records++;
      yield r;
    }
  };
  const text = imageText(counted(restoreOrderRecords(store, checkpointId)), form);
  if ('path' in target) {
    const bytes = writeToFile(text, target.path);
    return { checkpointId, records, bytes, path: target.path };
  }
  await writeToStream(text, target.stream);
  return { checkpointId, records };
}

function imageFormat(name: string, form: ImageForm, description: string): ExportFormat & ImportFormat {
  return {
    name,
    description,
    output: 'stream',
    options: ['label'],
    exportCheckpoint: (store, id, target) => exportImage(store, id, form, target),
    // Either form is detected from the first line; the NDJSON entry only insists on its form.
    detect: (path) => form === 'document' && (path === '-' || !isDirectory(path)),
    // the reader (a JSON schema validator, a streaming parser) loads when an import runs, not with every command
    importCheckpoint: async (store, path, opts) =>
      (await import('./importer.js')).importImage(store, path, { ...(form === 'ndjson' ? { form } : {}), ...labelOf(opts) }),
  };
}

export const imageDocumentFormat = imageFormat('image', 'document', "ckptdb's restore image: one versioned JSON document, one record a line");
export const imageNdjsonFormat = imageFormat('image-ndjson', 'ndjson', 'the restore image as NDJSON: a header line, one record a line, an end line');

/** The label option as the record importer takes it. */
export function labelOf(opts: ImportOptions): { label?: string } {
  return opts.label !== undefined ? { label: opts.label } : {};
}
