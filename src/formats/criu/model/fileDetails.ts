/**
 * The details of anonymous files (migrations/0005_file_details.sql) as CRIU keeps them in
 * each file's entry: an eventfd's counter, an epoll's targets, an inotify's watches, a
 * timerfd's clock and times, a signalfd's mask. Import writes the rows; export writes the
 * rows back into the entry, and only where they differ from it.
 */
import { clearField, create, isFieldSet } from '@bufbuild/protobuf';
import { CkptdbError } from '../../../errors.js';
import type { ObjectId } from '../../../store/writer/types.js';
import {
  eventpoll_tfd_entrySchema,
  type eventfd_file_entry, type eventpoll_file_entry, type eventpoll_tfd_entry, type inotify_file_entry, type signalfd_entry, type timerfd_entry,
} from '../gen/files_pb.js';
import { kernelDevNumber, kernelDevText, sigsetFromHex, sigsetHex } from '../values.js';
import type { ImportContext } from './context.js';
import type { Row } from './rows.js';

// The entries differ in shape; each spec knows its own.
type Sub = any;

export interface DetailSpec {
  kind: DetailKind;
  write(ctx: ImportContext, file: ObjectId, sub: Sub): void;
  /** Writes the detail rows of the file (in seq or wd order) into its entry; returns whether it changed. */
  overlay(sub: Sub, rows: Row[], what: string): boolean;
}

/** An unsigned 64-bit kernel value as the store keeps it: two's complement from 2^63 on. */
export function signed64(v: bigint): number | bigint {
  const s = BigInt.asIntN(64, v);
  return s >= BigInt(Number.MIN_SAFE_INTEGER) && s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}

function unsigned64(v: unknown, what: string): bigint {
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new CkptdbError('BAD_ARGUMENT', `${what} needs a number`);
  return BigInt.asUintN(64, BigInt(v));
}

function u32(v: unknown, what: string): number {
  const n = Number(v);
  if (v === null || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CkptdbError('BAD_ARGUMENT', `${what} ${String(v)} does not fit 32 bits`);
  return n;
}

const NS = 1_000_000_000n;

/** Sets a field where the value differs; returns whether it did. */
function put<T extends object, K extends keyof T>(m: T, k: K, v: T[K]): boolean {
  if (m[k] === v) return false;
  m[k] = v;
  return true;
}

const eventfd: DetailSpec = {
  kind: 'eventfd',
  write: (ctx, file, s: eventfd_file_entry) => ctx.w.addEventfd({ file, counter: signed64(s.counter) }),
  overlay: (s: eventfd_file_entry, rows, what) => (rows[0] ? put(s, 'counter', unsigned64(rows[0].counter, `${what}: counter`)) : false),
};

const epoll: DetailSpec = {
  kind: 'epoll',
  write: (ctx, file, s: eventpoll_file_entry) => {
    s.tfd.forEach((t, seq) => {
      ctx.w.addEpollTarget({
        file, seq, tfd: t.tfd, events: t.events, data: signed64(t.data),
        inode: isFieldSet(t, eventpoll_tfd_entrySchema.field.inode) ? signed64(t.inode) : null,
        dev: isFieldSet(t, eventpoll_tfd_entrySchema.field.dev) ? kernelDevText(t.dev) : null,
        pos: isFieldSet(t, eventpoll_tfd_entrySchema.field.pos) ? signed64(t.pos) : null,
      });
    });
  },
  overlay: (s: eventpoll_file_entry, rows, what) => {
    let changed = rows.length !== s.tfd.length;
    const list: eventpoll_tfd_entry[] = rows.map((r, i) => {
      const t = s.tfd[i] ?? create(eventpoll_tfd_entrySchema, { id: 0 });
      const w = `${what}: target ${String(r.seq)}`;
      changed = put(t, 'tfd', u32(r.tfd, `${w} tfd`)) || changed;
      changed = put(t, 'events', u32(r.events, `${w} events`)) || changed;
      changed = put(t, 'data', unsigned64(r.data, `${w} data`)) || changed;
      changed = optional(t, 'inode', r.inode === null ? null : unsigned64(r.inode, `${w} inode`)) || changed;
      changed = optional(t, 'dev', r.dev === null ? null : kernelDevNumber(String(r.dev))) || changed;
      changed = optional(t, 'pos', r.pos === null ? null : unsigned64(r.pos, `${w} pos`)) || changed;
      return t;
    });
    s.tfd = list;
    return changed;
  },
};

function optional<K extends 'inode' | 'dev' | 'pos'>(t: eventpoll_tfd_entry, k: K, v: eventpoll_tfd_entry[K] | null): boolean {
  const f = eventpoll_tfd_entrySchema.field[k]!;
  if (v === null) {
    if (!isFieldSet(t, f)) return false;
    clearField(t, f);
    return true;
  }
  if (isFieldSet(t, f) && t[k] === v) return false;
  t[k] = v;
  return true;
}

const inotify: DetailSpec = {
  kind: 'inotify',
  write: (ctx, file, s: inotify_file_entry) => {
    for (const w of s.wd) {
      ctx.w.addInotifyWatch({ file, wd: w.wd, inode: signed64(w.iIno), dev: kernelDevText(w.sDev), mask: w.mask, ignoredMask: w.ignoredMask });
    }
  },
  overlay: (s: inotify_file_entry, rows, what) => {
    const byWd = new Map(s.wd.map((w) => [w.wd, w]));
    let changed = rows.length !== s.wd.length;
    s.wd = rows.map((r) => {
      const wd = u32(r.wd, `${what}: wd`);
      const w = byWd.get(wd);
      // restore opens a watched inode by the file handle the dump took of it
      if (!w) throw new CkptdbError('UNSUPPORTED', `${what}: watch ${wd} is not in its CRIU image: CRIU restores a watch by a file handle ckptdb does not have`);
      changed = put(w, 'iIno', unsigned64(r.inode, `${what}: watch ${wd} inode`)) || changed;
      changed = put(w, 'sDev', r.dev === null ? w.sDev : kernelDevNumber(String(r.dev))) || changed;
      changed = put(w, 'mask', u32(r.mask, `${what}: watch ${wd} mask`)) || changed;
      changed = put(w, 'ignoredMask', u32(r.ignored_mask, `${what}: watch ${wd} ignored_mask`)) || changed;
      return w;
    });
    return changed;
  },
};

const timerfd: DetailSpec = {
  kind: 'timerfd',
  write: (ctx, file, s: timerfd_entry) => {
    ctx.w.addTimerfd({
      file, clockid: s.clockid, ticks: signed64(s.ticks), settimeFlags: s.settimeFlags,
      intervalNs: signed64(s.isec * NS + s.insec), valueNs: signed64(s.vsec * NS + s.vnsec),
    });
  },
  overlay: (s: timerfd_entry, rows, what) => {
    const r = rows[0];
    if (!r) return false;
    const interval = unsigned64(r.interval_ns, `${what}: interval_ns`);
    const value = unsigned64(r.value_ns, `${what}: value_ns`);
    let changed = put(s, 'clockid', u32(r.clockid, `${what}: clockid`));
    changed = put(s, 'ticks', unsigned64(r.ticks, `${what}: ticks`)) || changed;
    changed = put(s, 'settimeFlags', u32(r.settime_flags, `${what}: settime_flags`)) || changed;
    // the same time may be written with nanoseconds past a second: keep the entry's form where it is equal
    if (s.isec * NS + s.insec !== interval) {
      s.isec = interval / NS;
      s.insec = interval % NS;
      changed = true;
    }
    if (s.vsec * NS + s.vnsec !== value) {
      s.vsec = value / NS;
      s.vnsec = value % NS;
      changed = true;
    }
    return changed;
  },
};

const signalfd: DetailSpec = {
  kind: 'signalfd',
  write: (ctx, file, s: signalfd_entry) => ctx.w.addSignalfd({ file, sigmask: sigsetHex(s.sigmask) }),
  overlay: (s: signalfd_entry, rows) => (rows[0] ? put(s, 'sigmask', sigsetFromHex(String(rows[0].sigmask))) : false),
};

export type DetailKind = 'eventfd' | 'epoll' | 'inotify' | 'timerfd' | 'signalfd';

export const DETAILS: Record<DetailKind, DetailSpec> = { eventfd, epoll, inotify, timerfd, signalfd };
