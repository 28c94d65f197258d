/**
 * What the mapping of one CRIU checkpoint to the store's rows shares: the writer, the
 * images that are decoded into tables, and the ids given to CRIU's files so far.
 */
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type Database from 'better-sqlite3';
import type { CheckpointWriter } from '../../../capture/writer.js';
import type { ObjectId } from '../../../capture/types.js';
import { statement } from '../../../store/sqlFile.js';
import { badImage, decodeMessage, type Entry, type ImageHeader } from '../imageFile.js';

export interface ModelledImage {
  name: string;
  /** How errors name the file: its path, or archive:path. */
  where: string;
  header: ImageHeader;
  entries: Entry[];
}

interface Decoded<M> {
  entry: Entry;
  msg: M;
}

export class ImportContext {
  /** CRIU file id -> the files row made for it. */
  readonly files = new Map<number, ObjectId>();
  private readonly pathById: Database.Statement<unknown[]>;

  constructor(
    readonly w: CheckpointWriter,
    db: Database.Database,
    readonly images: ReadonlyMap<string, ModelledImage>,
    private readonly whereMissing: (name: string) => string,
  ) {
    this.pathById = db.prepare(statement('internal/criu.sql', 'file_path')).pluck();
  }

  decodeAll<Desc extends DescMessage>(name: string, schema: Desc): Decoded<MessageShape<Desc>>[] {
    return [...this.decodeEach(name, schema)];
  }

  /** One entry at a time, so that a large image is never held decoded all at once. */
  *decodeEach<Desc extends DescMessage>(name: string, schema: Desc): Generator<Decoded<MessageShape<Desc>>> {
    const img = this.images.get(name);
    if (!img) return;
    for (const entry of img.entries) yield { entry, msg: decodeMessage(schema, entry.payload, img.where, entry.offset) };
  }

  /** One entry as a given message type (images whose entries differ: pagemap). */
  decodeOneOf<Desc extends DescMessage>(entry: Entry, schema: Desc, where: string): MessageShape<Desc> {
    return decodeMessage(schema, entry.payload, where, entry.offset);
  }

  /** The one entry of a per-task image, or null when the image is absent. */
  decodeOne<Desc extends DescMessage>(name: string, schema: Desc): Decoded<MessageShape<Desc>> | null {
    const img = this.images.get(name);
    if (!img) return null;
    if (img.entries.length !== 1) throw badImage(img.where, img.header.body, `expected one ${schema.name}, found ${img.entries.length}`);
    return this.decodeAll(name, schema)[0]!;
  }

  where(name: string): string {
    return this.images.get(name)?.where ?? this.whereMissing(name);
  }

  /** The row of a CRIU file id that an entry refers to; the image is wrong without it. */
  fileRow(id: number, name: string, offset: number, what: string): ObjectId {
    const row = this.files.get(id);
    if (row === undefined) throw badImage(this.where(name), offset, `${what} refers to file id ${id}, which no file image holds`);
    return row;
  }

  /** The path of a file already written, for cwd, root, exe and file-backed maps. */
  filePath(id: number, name: string, offset: number, what: string): string | null {
    return (this.pathById.get(this.fileRow(id, name, offset, what)) as string | null | undefined) ?? null;
  }
}
