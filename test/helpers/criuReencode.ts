/**
 * Every entry of every image of a CRIU dump decoded and encoded again, as export does
 * when a row changed: with the message ckptdb reads it as where it reads one, and as a
 * message of unknown fields only (opaque) everywhere else.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DescMessage } from '@bufbuild/protobuf';
import { decodeMessage, encodeMessage, readEntries, readHeader } from '../../src/formats/criu/imageFile.js';
import { isRawImageName } from '../../src/formats/criu/magic.js';
import { core_entrySchema, task_kobj_ids_entrySchema } from '../../src/formats/criu/gen/core_pb.js';
import { fdinfo_entrySchema, file_entrySchema } from '../../src/formats/criu/gen/fdinfo_pb.js';
import { memfd_inode_entrySchema, remap_file_path_entrySchema, tty_info_entrySchema } from '../../src/formats/criu/gen/files_pb.js';
import { fs_entrySchema } from '../../src/formats/criu/gen/fs_pb.js';
import { inventory_entrySchema } from '../../src/formats/criu/gen/inventory_pb.js';
import { mm_entrySchema } from '../../src/formats/criu/gen/mm_pb.js';
import { mnt_entrySchema } from '../../src/formats/criu/gen/mnt_pb.js';
import { opaque_entrySchema } from '../../src/formats/criu/gen/opaque_pb.js';
import { ghost_file_entrySchema, pagemap_entrySchema, pagemap_headSchema } from '../../src/formats/criu/gen/payload_pb.js';
import { pstree_entrySchema } from '../../src/formats/criu/gen/pstree_pb.js';
import { stats_entrySchema, utsns_entrySchema } from '../../src/formats/criu/gen/stats_pb.js';

const BY_NAME: [RegExp, DescMessage][] = [
  [/^inventory\.img$/, inventory_entrySchema],
  [/^pstree\.img$/, pstree_entrySchema],
  [/^core-\d+\.img$/, core_entrySchema],
  [/^ids-\d+\.img$/, task_kobj_ids_entrySchema],
  [/^fs-\d+\.img$/, fs_entrySchema],
  [/^mm-\d+\.img$/, mm_entrySchema],
  [/^fdinfo-\d+\.img$/, fdinfo_entrySchema],
  [/^files\.img$/, file_entrySchema],
  [/^memfd\.img$/, memfd_inode_entrySchema],
  [/^remap-fpath\.img$/, remap_file_path_entrySchema],
  [/^tty-info\.img$/, tty_info_entrySchema],
  [/^mountpoints-\d+\.img$/, mnt_entrySchema],
  [/^stats-dump$/, stats_entrySchema],
  [/^utsns-\d+\.img$/, utsns_entrySchema],
];

/** The message an entry is read as. */
function schemaOf(name: string, index: number): DescMessage {
  if (/^pagemap-/.test(name)) return index === 0 ? pagemap_headSchema : pagemap_entrySchema;
  if (/^ghost-file-\d+\.img$/.test(name) && index === 0) return ghost_file_entrySchema;
  return BY_NAME.find(([re]) => re.test(name))?.[1] ?? opaque_entrySchema;
}

export interface Reencoded {
  /** Image files looked at, by the message their entries were read as. */
  kinds: Map<string, string>;
  /** Entries whose encoding differs from CRIU's: 'file#index'. */
  differ: string[];
  entries: number;
}

export function reencodeDump(dir: string): Reencoded {
  const out: Reencoded = { kinds: new Map(), differ: [], entries: 0 };
  for (const name of readdirSync(dir).sort()) {
    if (isRawImageName(name) || !(name.endsWith('.img') || name === 'stats-dump')) continue;
    const bytes = readFileSync(join(dir, name));
    const header = readHeader(bytes, name);
    readEntries(bytes, header, name).forEach((e, i) => {
      const schema = schemaOf(name, i);
      out.kinds.set(name, `${header.kind.name}:${schema.name}`);
      const again = encodeMessage(schema, decodeMessage(schema, e.payload, name, e.offset));
      if (!Buffer.from(again).equals(Buffer.from(e.payload))) out.differ.push(`${name}#${i}`);
      out.entries++;
    });
  }
  return out;
}

/**
 * Asserts that every entry of every image of a real dump re-encodes to the bytes CRIU
 * wrote, and that the images ckptdb reads as messages of its own were among them.
 */
export function expectReencodes(dir: string): void {
  const r = reencodeDump(dir);
  expect(r.differ).toEqual([]);
  expect(r.entries).toBeGreaterThan(50);
  // the images ckptdb reads as messages of its own, beside those it keeps as unknown fields
  expect([...r.kinds.values()].filter((k) => !k.endsWith(':opaque_entry')).map((k) => k.split(':')[0])).toEqual(expect.arrayContaining(['CORE', 'FILES', 'MM', 'FDINFO', 'PSTREE', 'INVENTORY', 'PAGEMAP']));
}

/** Asserts that two folders hold the same file names with the same bytes. */
export function expectSameFiles(got: string, want: string): void {
  const names = readdirSync(want).sort();
  expect(readdirSync(got).sort()).toEqual(names);
  for (const name of names) expect(readFileSync(join(got, name)).equals(readFileSync(join(want, name))), name).toBe(true);
}
