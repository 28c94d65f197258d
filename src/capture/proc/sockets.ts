/**
 * Socket details for the socket files of a capture, from /proc/net of each network
 * namespace their holders are in.
 */
import type { FdRecord } from './fds.js';
import { readSocketTables, type SocketDetails } from './net.js';
import { attempt, ProcReadError, readLink } from './procfs.js';

export function readSocketDetails(sockets: FdRecord[]): Map<string, SocketDetails> {
  const details = new Map<string, SocketDetails>();
  const wanted = new Set<string>();
  const holderOf = new Map<string, number>();
  const asked = new Set<number>();
  for (const r of sockets) {
    if (!r.info?.ino) continue;
    wanted.add(r.info.ino);
    const tid = r.table.holder;
    if (asked.has(tid)) continue;
    asked.add(tid);
    const ns = attempt(() => readLink(`/proc/${tid}/ns/net`));
    if (!(ns instanceof ProcReadError) && !holderOf.has(ns)) holderOf.set(ns, tid);
  }
  for (const tid of holderOf.values()) {
    if (details.size === wanted.size) break;
    readSocketTables(tid, wanted, details);
  }
  return details;
}
