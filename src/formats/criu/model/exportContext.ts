/**
 * What export shares while it rebuilds one checkpoint's modelled images: the rows,
 * the original images (decoded on demand), and the rule for writing an image back:
 * an entry nobody changed keeps its original bytes, an image nothing changed in is
 * written exactly as it was imported.
 */
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { decodeMessage, encodeImage, encodeMessage, readEntries, readHeader, type Entry, type ImageHeader } from '../imageFile.js';
import { imageNumber } from '../images.js';
import type { CheckpointRows, TaskRow } from './rows.js';

export interface OriginalImage {
  name: string;
  bytes: Buffer;
  header: ImageHeader;
  entries: Entry[];
}

/** One entry of a rebuilt image: the original kept as it was, or a message to encode. */
export type OutEntry<Desc extends DescMessage> =
  | { original: Entry }
  | { schema: Desc; msg: MessageShape<Desc>; extra?: Uint8Array | null };

export class ExportContext {
  private readonly decoded = new Map<string, unknown[]>();

  constructor(
    readonly rows: CheckpointRows,
    private readonly load: (name: string) => Buffer | null,
    readonly fdinfoPerId: boolean,
  ) {}

  original(name: string): OriginalImage | null {
    const bytes = this.load(name);
    if (!bytes) return null;
    const header = readHeader(bytes, name);
    return { name, bytes, header, entries: readEntries(bytes, header, name, false) };
  }

  /** The messages of an original image, decoded once. */
  messages<Desc extends DescMessage>(name: string, schema: Desc): { entry: Entry; msg: MessageShape<Desc> }[] {
    let list = this.decoded.get(name) as { entry: Entry; msg: MessageShape<Desc> }[] | undefined;
    if (!list) {
      const img = this.original(name);
      list = img ? img.entries.map((entry) => ({ entry, msg: decodeMessage(schema, entry.payload, name, entry.offset) })) : [];
      this.decoded.set(name, list);
    }
    return list;
  }
}

/** The bytes of a rebuilt image, or the original's when every entry is the original one. */
export function rebuild<Desc extends DescMessage>(img: OriginalImage, out: OutEntry<Desc>[]): Buffer {
  const unchanged = out.length === img.entries.length && out.every((e, i) => 'original' in e && e.original === img.entries[i]);
  if (unchanged) return img.bytes;
  return encodeImage(
    img.header.kind,
    img.header.head,
    out.map((e) => ('original' in e ? e.original : { payload: encodeMessage(e.schema, e.msg), extra: e.extra ?? null })),
  );
}

/** Every entry of an original image decoded afresh, for export to change. */
export function decodeFresh<Desc extends DescMessage>(img: OriginalImage, schema: Desc): { entry: Entry; msg: MessageShape<Desc> }[] {
  return img.entries.map((entry) => ({ entry, msg: decodeMessage(schema, entry.payload, img.name, entry.offset) }));
}

/**
 * A per-process image of one entry (core, ids, mm): dropped when its task's row is
 * gone, else rebuilt with `change`, which returns whether it changed the message.
 */
export function rebuildTaskImage<Desc extends DescMessage>(
  ex: ExportContext,
  img: OriginalImage,
  schema: Desc,
  change: (pid: number, row: TaskRow, msg: MessageShape<Desc>) => boolean,
): Buffer | null {
  const pid = imageNumber(img.name);
  const row = ex.rows.tasks.get(pid);
  if (!row) return null;
  const [one] = decodeFresh(img, schema);
  if (!one) return img.bytes;
  return rebuild(img, [change(pid, row, one.msg) ? { schema, msg: one.msg } : { original: one.entry }]);
}
