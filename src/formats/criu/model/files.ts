/**
 * Open files: files.img (one file_entry per open file, CRIU 3.15 on) and the per-type
 * images older CRIU wrote (reg-files.img, pipes.img, unixsk.img, ...). Each becomes a
 * files row keyed by its CRIU file id, standing on the inode, pipe or socket object
 * behind it; sockets get their sockets row, in the words a live capture uses
 * (capture/socketNames.ts), and a FIFO stands on its pipe as a live capture's does
 * (capture/fifoKey.ts).
 */
import { clearField, create, isFieldSet, type DescMessage } from '@bufbuild/protobuf';
import { fifoKey } from '../../../store/fifoKey.js';
import {
  ipProtocolName, netlinkProtocolName, packetProtocolText, socketFamilyName, socketStateName, socketStateNumber, socketTypeName,
  TCP_CLOSE, TCP_ESTABLISHED, unixAddressText,
} from '../../../store/socketNames.js';
import type { FileInput, FileType, SharedObjectInput, SocketInput } from '../../../store/writer/types.js';
import { CkptdbError } from '../../../errors.js';
import { badImage } from '../imageFile.js';
import { LEGACY_FILE_IMAGES } from '../images.js';
import {
  fileKey, memfdInodeKey, packetSocketKey, pathInodeKey, pipeKey, socketKey,
} from '../keys.js';
import {
  ANON_INODE_MODE, O_RDWR, PIPE_MODE, SOCKET_MODE, inetAddress, inetWords, packetProtocol, unixNameBytes,
} from '../values.js';
import { file_entrySchema, type file_entry } from '../gen/fdinfo_pb.js';
import {
  bpfmap_file_entrySchema, eventfd_file_entrySchema, eventpoll_file_entrySchema, ext_file_entrySchema,
  fanotify_file_entrySchema, fifo_entrySchema, inet_sk_entrySchema, inotify_file_entrySchema, memfd_file_entrySchema,
  netlink_sk_entrySchema, ns_file_entrySchema, packet_sock_entrySchema, pipe_entrySchema, reg_file_entrySchema,
  pidfd_entrySchema, signalfd_entrySchema, timerfd_entrySchema, tty_file_entrySchema, tunfile_entrySchema, unix_sk_entrySchema,
  type inet_sk_entry, type memfd_file_entry, type reg_file_entry, type tty_file_entry, type unix_sk_entry,
  memfd_inode_entrySchema,
} from '../gen/files_pb.js';
import { int, int64, overlay, u32, u64, type Binding } from './binding.js';
import { decodeFresh, rebuild, type ExportContext, type OriginalImage, type OutEntry } from './exportContext.js';
import type { ImportContext, WrittenFile } from './context.js';
import { DETAILS, type DetailSpec } from './fileDetails.js';
import type { FileFacts } from './fileFacts.js';
import { importTtys, ttyFileFacts } from './ttys.js';

/** file_entry's oneof-like sub-messages, by field name. */
type FileField =
  | 'reg' | 'isk' | 'nsf' | 'psk' | 'nlsk' | 'efd' | 'epfd' | 'sgfd' | 'tunf' | 'tfd'
  | 'ify' | 'ffy' | 'ext' | 'usk' | 'fifo' | 'pipe' | 'tty' | 'memfd' | 'bpf' | 'pidfd';

// The sub-messages differ in shape and each spec below knows its own: typing them
// through one union would cost a cast per field without catching anything more.
type Sub = any;

interface FileSpec {
  field: FileField;
  schema: DescMessage;
  type: (sub: Sub) => FileType;
  /** Bindings of files columns: path, pos, flags, mode, mnt_id. */
  columns: Partial<Record<'path' | 'pos' | 'flags' | 'mode' | 'mnt_id', Binding<Sub>>>;
  /** The object behind the file; regular is the file's regular-file entry, for those that have one. */
  object?: (sub: Sub, id: number, regular: WrittenFile | null) => SharedObjectInput | null;
  /** Socket details and their bindings. */
  socket?: (sub: Sub) => Omit<SocketInput, 'object'>;
  socketColumns?: Partial<Record<'state' | 'local_addr' | 'local_port' | 'remote_addr' | 'remote_port' | 'peer_ino', Binding<Sub>>>;
  /**
   * The id of the regular-file entry CRIU writes beside a FIFO or tty file to carry
   * its path (and for a FIFO its flags, position and mode): the file's path is that
   * entry's, and so are the columns listed in inherits.
   */
  regularFile?: (sub: Sub) => number | null;
  inherits?: ('pos' | 'flags' | 'mode' | 'mntId' | 'dev')[];
  /** The inode number of what the file is open on, where the entry keeps it. */
  inode?: (sub: Sub) => number | bigint;
  /**
   * Columns the kernel gives every file of the kind (see values.ts), where the entry
   * has none: what /proc shows for them.
   */
  fixed?: { pos?: number; mode?: number };
  /** Columns only the images beside files.img hold (fileFacts.ts). */
  facts?: (sub: Sub, id: number, facts: FileFacts) => Partial<Pick<FileInput, 'path' | 'mode' | 'inode' | 'dev' | 'deleted' | 'attrs'>>;
  /** Writes the rows of the file's detail table (fileDetails.ts). */
  details?: DetailSpec;
}

const S_IFMT = 0o170000;
/** netlink_sk_entry.state: NETLINK_UNCONNECTED 0, NETLINK_CONNECTED 1. */
const NETLINK_CONNECTED = 1;
const MODE_TYPES: Record<number, FileType> = { 0o040000: 'dir', 0o020000: 'chr', 0o060000: 'blk', 0o010000: 'fifo', 0o140000: 'socket', 0o120000: 'lnk' };

const flags: Binding<Sub> = { get: (s) => s.flags, set: (s, v) => { s.flags = u32(v, 'flags'); } };
const anon = (path: string) => ({ get: () => path });

const reg: FileSpec = {
  field: 'reg',
  schema: reg_file_entrySchema,
  type: (s: reg_file_entry) => (isFieldSet(s, reg_file_entrySchema.field.mode) ? MODE_TYPES[s.mode & S_IFMT] ?? 'reg' : 'reg'),
  columns: {
    path: { get: (s) => s.name, set: (s, v) => { if (typeof v !== 'string') throw new Error('a path is required'); s.name = v; } },
    pos: { get: (s) => int64(s.pos), set: (s, v) => { s.pos = u64(v, 'pos'); } },
    flags,
    mode: optional(reg_file_entrySchema, 'mode', (s) => s.mode, (s, v) => { s.mode = u32(v, 'mode'); }),
    mnt_id: optional(reg_file_entrySchema, 'mntId', (s) => s.mntId, (s, v) => { s.mntId = int(v, 'mnt_id'); }),
  },
  object: (s: reg_file_entry) => ({ kind: 'inode', key: pathInodeKey(isFieldSet(s, reg_file_entrySchema.field.mntId) ? s.mntId : -1, s.name) }),
  // an unlinked file is dumped as a ghost: its path stays, deleted as /proc says it
  facts: (_s, id, facts) => {
    const gone = facts.deleted.get(id);
    return gone ? { deleted: true, dev: gone.dev, inode: gone.inode } : {};
  },
};

/** A memfd's name, as /proc links it: /memfd:NAME; CRIU names shared anonymous memory /dev/zero. */
function memfdPath(name: string): string {
  return name.startsWith('/') ? name : `/memfd:${name}`;
}

const inetSocket: FileSpec = {
  field: 'isk',
  schema: inet_sk_entrySchema,
  type: () => 'socket',
  columns: { path: { get: (s) => `socket:[${s.ino}]` }, flags },
  inode: (s: inet_sk_entry) => s.ino,
  fixed: { pos: 0, mode: SOCKET_MODE },
  object: (s: inet_sk_entry) => ({ kind: 'socket', key: socketKey(s.ino) }),
  socket: (s: inet_sk_entry) => ({
    family: socketFamilyName(s.family),
    type: socketTypeName(s.type),
    protocol: ipProtocolName(s.proto),
    state: socketStateName(s.state),
    localAddr: inetAddress(s.srcAddr),
    localPort: s.srcPort,
    remoteAddr: inetAddress(s.dstAddr),
    remotePort: s.dstPort,
  }),
  socketColumns: {
    state: { get: (s) => socketStateName(s.state), set: (s, v) => { s.state = sockState(v); } },
    local_addr: { get: (s) => inetAddress(s.srcAddr), set: (s, v) => { s.srcAddr = words(v); } },
    local_port: { get: (s) => s.srcPort, set: (s, v) => { s.srcPort = port(v); } },
    remote_addr: { get: (s) => inetAddress(s.dstAddr), set: (s, v) => { s.dstAddr = words(v); } },
    remote_port: { get: (s) => s.dstPort, set: (s, v) => { s.dstPort = port(v); } },
  },
};

const unixSocket: FileSpec = {
  field: 'usk',
  schema: unix_sk_entrySchema,
  type: () => 'socket',
  columns: { path: { get: (s) => `socket:[${s.ino}]` }, flags },
  inode: (s: unix_sk_entry) => s.ino,
  fixed: { pos: 0, mode: SOCKET_MODE },
  object: (s: unix_sk_entry) => ({ kind: 'socket', key: socketKey(s.ino) }),
  socket: (s: unix_sk_entry) => ({
    family: 'unix',
    type: socketTypeName(s.type),
    state: socketStateName(s.state),
    localAddr: unixAddressText(s.name),
    peerIno: s.peer || null,
  }),
  socketColumns: {
    state: { get: (s) => socketStateName(s.state), set: (s, v) => { s.state = sockState(v); } },
    local_addr: { get: (s) => unixAddressText(s.name), set: (s, v) => { s.name = unixNameBytes(v === null ? null : String(v)); } },
    peer_ino: { get: (s) => s.peer || null, set: (s, v) => { s.peer = v === null ? 0 : u32(v, 'peer_ino'); } },
  },
};

function optional(schema: DescMessage, field: string, get: (s: Sub) => number, set: (s: Sub, v: Exclude<ReturnType<Binding<Sub>['get']>, null>) => void): Binding<Sub> {
  const f = schema.field[field]!;
  return {
    get: (s) => (isFieldSet(s, f) ? get(s) : null),
    set: (s, v) => (v === null ? clearField(s, f) : set(s, v)),
  };
}

function sockState(v: unknown): number {
  const n = typeof v === 'string' ? socketStateNumber(v) : null;
  if (n === null) throw new Error('not a socket state');
  return n;
}

function words(v: unknown): number[] {
  if (v === null) return [];
  const w = inetWords(String(v));
  if (!w) throw new Error('not an IP address');
  return w;
}

function port(v: unknown): number {
  const n = int(v as number, 'port');
  if (n < 0 || n > 65535) throw new Error('not a port');
  return n;
}

/** fd_types -> how such a file maps. */
const FILE_SPECS: Record<number, FileSpec> = {
  1: reg,
  2: {
    field: 'pipe', schema: pipe_entrySchema, type: () => 'pipe',
    columns: { path: { get: (s) => `pipe:[${s.pipeId}]` }, flags },
    inode: (s) => s.pipeId,
    fixed: { pos: 0, mode: PIPE_MODE },
    object: (s) => ({ kind: 'pipe', key: pipeKey(s.pipeId) }),
  },
  3: {
    field: 'fifo', schema: fifo_entrySchema, type: () => 'fifo', columns: {},
    // pipe_id is the FIFO's inode number; its regular-file entry names the mount
    object: (s, _id, regular) => ({ kind: 'pipe', key: fifoKey(regular?.dev ?? null, regular?.mntId ?? null, s.pipeId) }),
    inode: (s) => s.pipeId,
    regularFile: (s) => (isFieldSet(s, fifo_entrySchema.field.regfId) ? s.regfId : null),
    inherits: ['pos', 'flags', 'mode', 'mntId', 'dev'],
  },
  4: inetSocket,
  5: unixSocket,
  6: { field: 'efd', schema: eventfd_file_entrySchema, type: () => 'eventfd', columns: { path: anon('anon_inode:[eventfd]'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE }, details: DETAILS.eventfd },
  7: { field: 'epfd', schema: eventpoll_file_entrySchema, type: () => 'epoll', columns: { path: anon('anon_inode:[eventpoll]'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE }, details: DETAILS.epoll },
  8: { field: 'ify', schema: inotify_file_entrySchema, type: () => 'inotify', columns: { path: anon('anon_inode:inotify'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE }, details: DETAILS.inotify },
  9: { field: 'sgfd', schema: signalfd_entrySchema, type: () => 'signalfd', columns: { path: anon('anon_inode:[signalfd]'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE }, details: DETAILS.signalfd },
  10: {
    field: 'psk', schema: packet_sock_entrySchema, type: () => 'socket', columns: { flags },
    object: (_s, id) => ({ kind: 'socket', key: packetSocketKey(id) }),
    socket: (s) => ({ family: 'packet', type: socketTypeName(s.type), protocol: packetProtocolText(packetProtocol(s.protocol)) }),
  },
  // its regular-file entry holds the path, position and mode; tty-info.img the device (ttys.ts)
  11: {
    field: 'tty', schema: tty_file_entrySchema, type: () => 'chr', columns: { flags },
    regularFile: (s) => (isFieldSet(s, tty_file_entrySchema.field.regfId) ? s.regfId : null),
    inherits: ['pos', 'mode'],
    facts: (s: tty_file_entry, _id, facts) => ttyFileFacts(facts.ttys.get(s.ttyInfoId)),
  },
  12: { field: 'ffy', schema: fanotify_file_entrySchema, type: () => 'fanotify', columns: { path: anon('anon_inode:[fanotify]'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE } },
  13: {
    field: 'nlsk', schema: netlink_sk_entrySchema, type: () => 'socket', columns: { path: { get: (s) => `socket:[${s.ino}]` }, flags },
    inode: (s) => s.ino,
    fixed: { pos: 0, mode: SOCKET_MODE },
    object: (s) => ({ kind: 'socket', key: socketKey(s.ino) }),
    // the entry keeps no socket type, and /proc/net/netlink shows none: both leave it unknown
    socket: (s) => ({
      family: 'netlink', type: null, protocol: netlinkProtocolName(s.protocol),
      state: socketStateName(s.state === NETLINK_CONNECTED ? TCP_ESTABLISHED : TCP_CLOSE),
    }),
  },
  14: { field: 'nsf', schema: ns_file_entrySchema, type: () => 'unknown', columns: { flags } },
  15: { field: 'tunf', schema: tunfile_entrySchema, type: () => 'chr', columns: { path: anon('/dev/net/tun') } },
  16: { field: 'ext', schema: ext_file_entrySchema, type: () => 'unknown', columns: {} },
  17: { field: 'tfd', schema: timerfd_entrySchema, type: () => 'timerfd', columns: { path: anon('anon_inode:[timerfd]'), flags }, fixed: { pos: 0, mode: ANON_INODE_MODE }, details: DETAILS.timerfd },
  // memfd.img holds the inode: its name (the path /proc shows), mode and inode number
  18: {
    field: 'memfd', schema: memfd_file_entrySchema, type: () => 'memfd',
    columns: { pos: { get: (s) => int64(s.pos), set: (s, v) => { s.pos = u64(v, 'pos'); } }, flags },
    object: (s) => ({ kind: 'inode', key: memfdInodeKey(s.inodeId) }),
    facts: (s: memfd_file_entry, _id, facts) => {
      const inode = facts.memfds.get(s.inodeId);
      if (!inode) return { deleted: true };
      return {
        path: memfdPath(inode.name), deleted: true, inode: inode.shmid,
        mode: isFieldSet(inode, memfd_inode_entrySchema.field.mode) ? inode.mode : null,
      };
    },
  },
  19: {
    field: 'bpf', schema: bpfmap_file_entrySchema, type: () => 'anon',
    columns: { path: anon('anon_inode:bpf-map'), pos: { get: (s) => int64(s.pos), set: (s, v) => { s.pos = u64(v, 'pos'); } }, flags },
  },
  // pidfd_entry.flags are pidfd_open's (PIDFD_NONBLOCK); the kernel opens every pidfd O_RDWR
  20: {
    field: 'pidfd', schema: pidfd_entrySchema, type: () => 'anon',
    columns: {
      path: anon('anon_inode:[pidfd]'),
      flags: {
        get: (s) => s.flags | O_RDWR,
        set: (s, v) => {
          const f = u32(v, 'flags');
          if ((f & 3) !== O_RDWR) throw new Error('a pidfd is open O_RDWR');
          s.flags = f & ~O_RDWR;
        },
      },
    },
    inode: (s) => int64(s.ino),
    fixed: { pos: 0 },
  },
};

const FD_TYPE_NAMES: Record<number, string> = {
  0: 'UND', 1: 'REG', 2: 'PIPE', 3: 'FIFO', 4: 'INETSK', 5: 'UNIXSK', 6: 'EVENTFD', 7: 'EVENTPOLL', 8: 'INOTIFY',
  9: 'SIGNALFD', 10: 'PACKETSK', 11: 'TTY', 12: 'FANOTIFY', 13: 'NETLINKSK', 14: 'NS', 15: 'TUNF', 16: 'EXT',
  17: 'TIMERFD', 18: 'MEMFD', 19: 'BPFMAP', 20: 'PIDFD', 65534: 'CTL_TTY', 65535: 'AUTOFS_PIPE',
};

/** One open file as CRIU wrote it, from files.img or a per-type image. */
interface CriuFile {
  image: string;
  offset: number;
  entry: file_entry;
  /** Legacy images hold the sub-message itself. */
  legacy: boolean;
}

function subMessage(f: file_entry): Sub {
  const spec = FILE_SPECS[f.type];
  return spec ? (f as Sub)[spec.field] : undefined;
}

/** Every open file of the checkpoint, in image order. */
function* criuFiles(ctx: ImportContext): Generator<CriuFile> {
  for (const { entry, msg } of ctx.decodeEach('files.img', file_entrySchema)) {
    yield { image: 'files.img', offset: entry.offset, entry: msg, legacy: false };
  }
  for (const [name, legacy] of Object.entries(LEGACY_FILE_IMAGES)) {
    const spec = FILE_SPECS[legacy.type]!;
    for (const { entry, msg } of ctx.decodeEach(name, spec.schema)) {
      const sub = msg as Sub;
      yield { image: name, offset: entry.offset, entry: create(file_entrySchema, { type: legacy.type, id: sub.id, [spec.field]: sub }), legacy: true };
    }
  }
}

export function importFiles(ctx: ImportContext, facts: FileFacts): void {
  const deferred: CriuFile[] = [];
  const ttys: { id: number; sub: Sub; image: string; offset: number }[] = [];
  for (const f of criuFiles(ctx)) {
    const spec = FILE_SPECS[f.entry.type];
    if (spec?.regularFile && spec.regularFile(subMessage(f.entry)) !== null) deferred.push(f);
    else addFile(ctx, f, null, facts);
  }
  for (const f of deferred) {
    const spec = FILE_SPECS[f.entry.type]!;
    addFile(ctx, f, ctx.writtenFile(spec.regularFile!(subMessage(f.entry))!, f.image, f.offset, `${FD_TYPE_NAMES[f.entry.type]} file ${f.entry.id}`), facts);
  }
  for (const f of criuFiles(ctx)) {
    if (f.entry.type === TTY) ttys.push({ id: f.entry.id, sub: subMessage(f.entry), image: f.image, offset: f.offset });
  }
  importTtys(ctx, ttys, facts);
}

const TTY = 11;

function addFile(ctx: ImportContext, f: CriuFile, regular: WrittenFile | null, facts: FileFacts): void {
  const { entry } = f;
  const where = ctx.where(f.image);
  if (ctx.files.has(entry.id)) throw badImage(where, f.offset, `file id ${entry.id} appears twice`);
  const spec = FILE_SPECS[entry.type];
  const sub = subMessage(entry);
  if (spec && sub === undefined) throw badImage(where, f.offset, `file ${entry.id} of type ${FD_TYPE_NAMES[entry.type]} lacks its ${spec.field} entry`);
  if (spec && sub.id !== entry.id) throw badImage(where, f.offset, `file ${entry.id} holds a ${spec.field} entry of file ${sub.id}`);
  const get = (col: keyof FileSpec['columns']) => spec?.columns[col]?.get(sub) ?? null;
  const inherit = <K extends 'pos' | 'flags' | 'mode' | 'mntId' | 'dev'>(col: K) => (regular && spec?.inherits?.includes(col) ? regular[col] : null);
  const objectInput = spec?.object?.(sub, entry.id, regular) ?? null;
  const object = objectInput ? ctx.w.addSharedObject(objectInput) : null;
  const known = spec?.facts?.(sub, entry.id, facts) ?? {};
  const input: FileInput = {
    key: fileKey(entry.id),
    type: spec ? spec.type(sub) : 'unknown',
    path: (get('path') as string | null) ?? regular?.path ?? known.path ?? null,
    pos: (get('pos') as number | bigint | null) ?? inherit('pos') ?? spec?.fixed?.pos ?? null,
    flags: (get('flags') as number | null) ?? inherit('flags'),
    mode: (get('mode') as number | null) ?? inherit('mode') ?? known.mode ?? spec?.fixed?.mode ?? null,
    mntId: (get('mnt_id') as number | null) ?? inherit('mntId'),
    dev: inherit('dev') ?? known.dev ?? null,
    inode: spec?.inode?.(sub) ?? known.inode ?? null,
    deleted: known.deleted ?? false,
    object,
    attrs: known.attrs,
  };
  const id = ctx.w.addFile(input);
  ctx.files.set(entry.id, id);
  if (spec?.socket && object !== null) ctx.w.addSocket({ object, ...spec.socket(sub) });
  spec?.details?.write(ctx, id, sub);
}

/** CRIU file id -> fd type, from the original file images, for fdinfo entries. */
export function fileTypes(ex: ExportContext): Map<number, number> {
  const types = new Map<number, number>();
  for (const { msg } of ex.messages('files.img', file_entrySchema)) types.set(msg.id, msg.type);
  for (const [name, legacy] of Object.entries(LEGACY_FILE_IMAGES)) {
    for (const { msg } of ex.messages(name, FILE_SPECS[legacy.type]!.schema)) types.set((msg as Sub).id, legacy.type);
  }
  return types;
}

/**
 * files.img, or one of the per-type file images: each entry with the values of its files
 * row (and sockets row); an entry whose row is gone is dropped.
 */
export function exportFileImage(ex: ExportContext, img: OriginalImage, seen: Set<string>): Buffer {
  const legacy = LEGACY_FILE_IMAGES[img.name];
  const out: OutEntry<DescMessage>[] = [];
  const schema = legacy ? FILE_SPECS[legacy.type]!.schema : file_entrySchema;
  for (const { entry, msg } of decodeFresh(img, schema)) {
    const fe = legacy ? null : (msg as file_entry);
    const id: number = fe ? fe.id : (msg as Sub).id;
    const key = fileKey(id);
    const row = ex.rows.files.get(key);
    if (!row) continue;
    seen.add(key);
    const spec = FILE_SPECS[fe ? fe.type : legacy!.type];
    const sub = fe ? subMessage(fe) : msg;
    let changed = false;
    if (spec && sub !== undefined) {
      const what = `file ${key}`;
      changed = overlay(sub, spec.columns, row, what);
      if (spec.socketColumns && row.socket_object !== null) changed = overlay(sub, spec.socketColumns, row, what) || changed;
      if (spec.details) changed = spec.details.overlay(sub, ex.rows.details[spec.details.kind].get(key) ?? [], what) || changed;
    }
    out.push(changed ? { schema, msg } : { original: entry });
  }
  return rebuild(img, out);
}

/** Files rows that no image holds cannot be written: CRIU needs far more of a file than a row has. */
export function checkAllFilesWritten(ex: ExportContext, seen: Set<string>): void {
  for (const key of ex.rows.files.keys()) {
    if (!seen.has(key)) throw new CkptdbError('UNSUPPORTED', `file ${key} is in no CRIU file image of the checkpoint: ckptdb cannot make a CRIU image for a new open file`);
  }
}
