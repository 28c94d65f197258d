/**
 * What the mapping of one CRIU checkpoint to the store's rows shares: the writer, the
 * images that are decoded into tables, and the ids given to CRIU's files so far.
 */
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type Database from 'better-sqlite3';
import type { CheckpointWriter } from '../../../store/writer/writer.js';
import type { ObjectId } from '../../../store/writer/types.js';
import { statement } from '../../../store/sqlFile.js';
import { badImage, decodeMessage, type Entry, type ImageHeader } from '../imageFile.js';
import { mnt_entrySchema } from '../gen/mnt_pb.js';
import { int64 } from './binding.js';

/** Images of the mounts of each mount namespace: kept as they are, read for the devices of mount ids. */
export const MOUNTPOINTS = /^mountpoints-\d+\.img$/;

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

/** The columns of a files row that other entries take from it. */
export interface WrittenFile {
  path: string | null;
  deleted: boolean;
  inode: number | bigint | null;
  pos: number | bigint | null;
  flags: number | null;
  mode: number | null;
  mntId: number | null;
  /** 'major:minor' of the filesystem its mount stands on, where a mountpoints image says. */
  dev: string | null;
}

/** A files row as file_by_id reads it, every integer a bigint. */
interface FileRow {
  path: string | null;
  deleted: bigint;
  inode: bigint | null;
  pos: bigint | null;
  flags: bigint | null;
  mode: bigint | null;
  mnt_id: bigint | null;
  dev: string | null;
}

export class ImportContext {
  /** CRIU file id -> the files row made for it. */
  readonly files = new Map<number, ObjectId>();
  private readonly byId: Database.Statement<unknown[]>;
  private devices: Map<number, string> | null = null;

  constructor(
    readonly w: CheckpointWriter,
    db: Database.Database,
    readonly images: ReadonlyMap<string, ModelledImage>,
    private readonly whereMissing: (name: string) => string,
  ) {
    this.byId = db.prepare(statement('internal/criu.sql', 'file_by_id')).safeIntegers(true);
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

  /** A file already written, as the entry that refers to it by id (at offset of image name) needs it. */
  writtenFile(id: number, name: string, offset: number, what: string): WrittenFile {
    const r = this.byId.get(this.fileRow(id, name, offset, what)) as FileRow;
    const num = (v: bigint | null) => (v === null ? null : Number(v));
    const mntId = num(r.mnt_id);
    return {
      path: r.path, deleted: r.deleted === 1n, inode: r.inode === null ? null : int64(r.inode),
      pos: r.pos === null ? null : int64(r.pos), flags: num(r.flags), mode: num(r.mode), mntId, dev: r.dev ?? this.mountDevice(mntId),
    };
  }

  /** The device a mount id stands on, from the checkpoint's mountpoints images (CRIU writes them for mount namespaces). */
  mountDevice(mntId: number | null): string | null {
    if (!this.devices) {
      this.devices = new Map();
      for (const name of this.images.keys()) {
        if (!MOUNTPOINTS.test(name) || this.images.get(name)!.header.kind.name !== 'MNTS') continue;
        for (const { msg } of this.decodeEach(name, mnt_entrySchema)) {
          // the kernel's own encoding of dev_t, as CRIU keeps it
          this.devices.set(msg.mntId, `${msg.rootDev >>> 20}:${msg.rootDev & 0xfffff}`);
        }
      }
    }
    return mntId === null ? null : (this.devices.get(mntId) ?? null);
  }

  /** The path of a file already written, for cwd, root, exe and file-backed maps. */
  filePath(id: number, name: string, offset: number, what: string): string | null {
    return this.writtenFile(id, name, offset, what).path;
  }
}
