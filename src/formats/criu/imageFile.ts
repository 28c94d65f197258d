/**
 * Reading and writing CRIU image files: the head and image magics, then entries of
 * `u32 size` (little-endian, as CRIU writes on the machines it runs on), a protobuf
 * message of that size, and for some kinds bytes that belong to the entry.
 *
 * Every failure names the file and the byte offset where the image stops making sense.
 */
import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { CkptdbError } from '../../errors.js';
import { IMG_COMMON, IMG_SERVICE, KIND_BY_MAGIC, headMagicFor, type ImageKind } from './magic.js';
import { opaque_entrySchema } from './gen/opaque_pb.js';
import {
  bpfmap_data_entrySchema,
  ghost_chunk_entrySchema,
  ghost_file_entrySchema,
  ipc_msg_entrySchema,
  ipc_msgSchema,
  ipc_sem_entrySchema,
  ipc_shm_entrySchema,
  pagemap_entrySchema,
  pagemap_headSchema,
  pipe_data_entrySchema,
  sk_packet_entrySchema,
  tcp_stream_entrySchema,
} from './gen/payload_pb.js';

export interface ImageHeader {
  kind: ImageKind;
  /** IMG_COMMON or IMG_SERVICE, or null when the file starts with its own magic. */
  head: number | null;
  /** Offset of the first entry. */
  body: number;
}

/** One entry: where it starts (its size word), its message, and the bytes that follow it. */
export interface Entry {
  offset: number;
  payload: Uint8Array;
  extra: Uint8Array | null;
}

export function badImage(where: string, offset: number, what: string): CkptdbError {
  return new CkptdbError('BAD_IMAGE', `${where}: ${what} at byte ${offset}`);
}

function u32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) + bytes[offset + 3]! * 0x1000000;
}

export function readHeader(bytes: Uint8Array, where: string): ImageHeader {
  if (bytes.length < 4) throw badImage(where, 0, `truncated: ${bytes.length} bytes, not even a magic number`);
  let head: number | null = u32(bytes, 0);
  let body = 4;
  let magic = head;
  if (head === IMG_COMMON || head === IMG_SERVICE) {
    if (bytes.length < 8) throw badImage(where, 4, 'truncated: the image magic is missing');
    magic = u32(bytes, 4);
    body = 8;
  } else {
    head = null;
  }
  const kind = KIND_BY_MAGIC.get(magic);
  if (!kind) throw badImage(where, body - 4, `unknown image type: magic 0x${magic.toString(16).padStart(8, '0')}`);
  return { kind, head, body };
}

/** The bytes of a whole image: its header, then each entry's size, message and extra bytes. */
export function encodeImage(kind: ImageKind, head: number | null | undefined, entries: Iterable<{ payload: Uint8Array; extra?: Uint8Array | null }>): Buffer {
  const parts: Uint8Array[] = [];
  const h = head === undefined ? headMagicFor(kind) : head;
  const magic = Buffer.alloc(h === null ? 4 : 8);
  if (h !== null) magic.writeUInt32LE(h, 0);
  magic.writeUInt32LE(kind.magic, h === null ? 0 : 4);
  parts.push(magic);
  for (const e of entries) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(e.payload.length, 0);
    parts.push(size, e.payload);
    if (e.extra) parts.push(e.extra);
  }
  return Buffer.concat(parts);
}

/** Decodes one message and checks that every required field is there, as CRIU's reader does. */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, payload: Uint8Array, where: string, offset: number): MessageShape<Desc> {
  let msg: MessageShape<Desc>;
  try {
    msg = fromBinary(schema, payload);
  } catch (e) {
    throw badImage(where, offset, `entry does not decode as ${schema.name}: ${(e as Error).message}`);
  }
  const missing = requiredCheck(schema)(msg);
  if (missing) throw badImage(where, offset, `${schema.name} lacks its required field ${missing}`);
  return msg;
}

/** Finds a missing required field, or returns null. */
type RequiredCheck = (msg: object) => string | null;
const requiredChecks = new Map<DescMessage, RequiredCheck>();

/**
 * A check per message type, made once from its descriptor. A proto2 field that was on
 * the wire is an own property of the decoded message (unset ones fall back to the
 * prototype's defaults), which is what isFieldSet looks at too, only faster.
 */
function requiredCheck(schema: DescMessage): RequiredCheck {
  let check = requiredChecks.get(schema);
  if (check) return check;
  const required = schema.fields.filter((f) => f.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED).map((f) => [f.localName, f.name] as const);
  const nested: [string, string, DescMessage, boolean][] = [];
  for (const f of schema.fields) {
    if (f.fieldKind === 'message') nested.push([f.localName, f.name, f.message, false]);
    else if (f.fieldKind === 'list' && f.listKind === 'message') nested.push([f.localName, f.name, f.message, true]);
  }
  check = (msg) => {
    const m = msg as Record<string, unknown>;
    for (const [local, name] of required) {
      if (!Object.prototype.hasOwnProperty.call(m, local)) return name;
    }
    for (const [local, name, desc, list] of nested) {
      const v = m[local];
      if (v === undefined) continue;
      for (const item of list ? (v as object[]) : [v as object]) {
        const inner = requiredCheck(desc)(item);
        if (inner) return `${name}.${inner}`;
      }
    }
    return null;
  };
  requiredChecks.set(schema, check);
  return check;
}

/**
 * A message as CRIU's encoder (protobuf-c) writes it: every field in field-number order,
 * the fields ckptdb does not declare among them where their numbers put them, and the
 * same within every nested message ckptdb declares. toBinary writes the declared fields
 * first and the unknown ones after them; this puts them back in order, so that an
 * entry decoded and encoded again is the bytes CRIU wrote.
 */
export function encodeMessage<Desc extends DescMessage>(schema: Desc, msg: MessageShape<Desc>): Uint8Array {
  return canonicalOrder(schema, toBinary(schema, msg));
}

interface WireField {
  no: number;
  /** The field's bytes, its tag included. */
  start: number;
  end: number;
  /** Where a length-delimited field's payload starts. */
  payload: number;
}

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 1;
  for (;;) {
    const b = bytes[at++]!;
    value += (b & 0x7f) * shift;
    if (b < 0x80) return [value, at];
    shift *= 128;
  }
}

function wireFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const [tag, afterTag] = readVarint(bytes, at);
    const no = Math.floor(tag / 8);
    let payload = afterTag;
    switch (tag & 7) {
      case 0:
        at = readVarint(bytes, afterTag)[1];
        break;
      case 1:
        at = afterTag + 8;
        break;
      case 2: {
        const [n, p] = readVarint(bytes, afterTag);
        payload = p;
        at = p + n;
        break;
      }
      case 5:
        at = afterTag + 4;
        break;
      default:
        throw new Error(`wire type ${tag & 7} of field ${no}: not one CRIU writes`);
    }
    fields.push({ no, start, end: at, payload });
  }
  return fields;
}

function canonicalOrder(schema: DescMessage, bytes: Uint8Array): Uint8Array {
  const fields = wireFields(bytes);
  const sorted = fields.every((f, i) => i === 0 || fields[i - 1]!.no <= f.no);
  const nested = new Map<number, DescMessage>();
  for (const f of schema.fields) {
    if (f.fieldKind === 'message') nested.set(f.number, f.message);
    else if (f.fieldKind === 'list' && f.listKind === 'message') nested.set(f.number, f.message);
  }
  if (sorted && !fields.some((f) => nested.has(f.no))) return bytes;
  const order = [...fields].sort((a, b) => a.no - b.no);
  const out = new Uint8Array(bytes.length);
  let at = 0;
  for (const f of order) {
    const inner = nested.get(f.no);
    if (inner) {
      out.set(bytes.subarray(f.start, f.payload), at);
      at += f.payload - f.start;
      const body = canonicalOrder(inner, bytes.subarray(f.payload, f.end));
      out.set(body, at);
      at += body.length;
    } else {
      out.set(bytes.subarray(f.start, f.end), at);
      at += f.end - f.start;
    }
  }
  return out;
}

/**
 * Splits an image into its entries and checks that they fill it exactly. Messages whose
 * length decides what follows them are decoded; the rest are checked to be well-formed
 * protobuf when `check` is set (images that are decoded anyway need not be).
 */
export function readEntries(bytes: Uint8Array, header: ImageHeader, where: string, check = true): Entry[] {
  const entries: Entry[] = [];
  const layout = header.kind.layout;
  let pos = header.body;
  const next = (): Entry => {
    const offset = pos;
    if (bytes.length - pos < 4) throw badImage(where, offset, `truncated: ${bytes.length - pos} bytes where an entry size was expected`);
    const size = u32(bytes, pos);
    if (size > bytes.length - pos - 4) throw badImage(where, offset, `truncated: entry of ${size} bytes, ${bytes.length - pos - 4} left`);
    const payload = bytes.subarray(pos + 4, pos + 4 + size);
    pos += 4 + size;
    return { offset, payload, extra: null };
  };
  const take = (entry: Entry, n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || n > bytes.length - pos) {
      throw badImage(where, entry.offset, `truncated: entry announces ${n} bytes of data, ${bytes.length - pos} left`);
    }
    entry.extra = bytes.subarray(pos, pos + n);
    pos += n;
  };

  if (layout === 'ghost') {
    const first = next();
    const gf = decodeMessage(ghost_file_entrySchema, first.payload, where, first.offset);
    entries.push(first);
    if (!gf.chunks) {
      take(first, bytes.length - pos);
      return entries;
    }
    while (pos < bytes.length) {
      const e = next();
      take(e, Number(decodeMessage(ghost_chunk_entrySchema, e.payload, where, e.offset).len));
      entries.push(e);
    }
    return entries;
  }

  while (pos < bytes.length) {
    const e = next();
    switch (layout) {
      case 'pagemap':
        decodeMessage(entries.length === 0 ? pagemap_headSchema : pagemap_entrySchema, e.payload, where, e.offset);
        break;
      case 'pipe_data':
        take(e, decodeMessage(pipe_data_entrySchema, e.payload, where, e.offset).bytes);
        break;
      case 'sk_queue':
        take(e, decodeMessage(sk_packet_entrySchema, e.payload, where, e.offset).length);
        break;
      case 'tcp_stream': {
        const t = decodeMessage(tcp_stream_entrySchema, e.payload, where, e.offset);
        take(e, t.inqLen + t.outqLen);
        break;
      }
      case 'bpfmap_data': {
        const b = decodeMessage(bpfmap_data_entrySchema, e.payload, where, e.offset);
        take(e, b.keysBytes + b.valuesBytes);
        break;
      }
      case 'ipc_shm':
        take(e, roundUp(Number(decodeMessage(ipc_shm_entrySchema, e.payload, where, e.offset).size), 4));
        break;
      case 'ipc_sem':
        take(e, roundUp(decodeMessage(ipc_sem_entrySchema, e.payload, where, e.offset).nsems * 2, 8));
        break;
      case 'ipc_msg': {
        const start = pos;
        const queue = decodeMessage(ipc_msg_entrySchema, e.payload, where, e.offset);
        for (let i = 0; i < queue.qnum; i++) {
          const m = next();
          const msg = decodeMessage(ipc_msgSchema, m.payload, where, m.offset);
          take(m, roundUp(msg.msize, 8));
        }
        e.extra = bytes.subarray(start, pos);
        break;
      }
      case 'entries':
        if (check) decodeMessage(opaque_entrySchema, e.payload, where, e.offset);
        break;
    }
    entries.push(e);
  }
  return entries;
}

/** Checks that every entry is well-formed protobuf, for images not decoded otherwise. */
export function checkWellFormed(entries: Entry[], where: string): void {
  for (const e of entries) decodeMessage(opaque_entrySchema, e.payload, where, e.offset);
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Decodes every entry of an image as one message type. */
export function decodeAll<Desc extends DescMessage>(schema: Desc, entries: Entry[], where: string): { entry: Entry; msg: MessageShape<Desc> }[] {
  return entries.map((entry) => ({ entry, msg: decodeMessage(schema, entry.payload, where, entry.offset) }));
}

