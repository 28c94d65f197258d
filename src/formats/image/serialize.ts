import type { RecordText } from './exporter.js';
import { IMAGE_FORMAT, IMAGE_VERSION, type ImageForm, type ImageRecord } from './types.js';

/**
 * The document form puts one record on each line between a fixed first and last line,
 * so a reader can take it line by line with JSON.parse; it is still one JSON document
 * that any JSON tool reads (and may re-indent: the reader falls back to a streaming
 * parser for that).
 */
export const DOCUMENT_HEAD = `{"format":"${IMAGE_FORMAT}","version":${IMAGE_VERSION},"records":[`;
export const DOCUMENT_TAIL = ']}';
export const NDJSON_HEAD = `{"format":"${IMAGE_FORMAT}","version":${IMAGE_VERSION}}`;

/** The image as text pieces, one per line, for a writer that gathers them into chunks. */
export function* imageText(records: Iterable<ImageRecord | RecordText>, form: ImageForm): Generator<string> {
  let n = 0;
  if (form === 'document') {
    yield DOCUMENT_HEAD;
    for (const r of records) {
      yield (n++ ? ',\n' : '\n') + (typeof r === 'string' ? r : JSON.stringify(r));
    }
    yield `\n${DOCUMENT_TAIL}\n`;
  } else {
    yield NDJSON_HEAD + '\n';
    for (const r of records) {
      yield (typeof r === 'string' ? r : JSON.stringify(r)) + '\n';
      n++;
    }
    yield JSON.stringify({ record: 'end', records: n }) + '\n';
  }
}
