/**
 * Socket details for the sockets of a capture, from /proc/net of each network
 * namespace their holders are in.
 */
import type { CheckpointWriter } from '../writer.js';
import type { SocketRef } from './fdPhase.js';
import { readSocketTables, type SocketDetails } from './net.js';
import { attempt, ProcReadError, readLink } from './procfs.js';

/** Reads the socket tables once per network namespace and writes what they say of each socket. */
export function describeSockets(sockets: SocketRef[], writer: CheckpointWriter): void {
  const details = new Map<string, SocketDetails>();
  const wanted = new Set<string>();
  const holderOf = new Map<string, number>();
  const asked = new Set<number>();
  for (const s of sockets) {
    wanted.add(s.ino);
    if (asked.has(s.holder)) continue;
    asked.add(s.holder);
    const ns = attempt(() => readLink(`/proc/${s.holder}/ns/net`));
    if (!(ns instanceof ProcReadError) && !holderOf.has(ns)) holderOf.set(ns, s.holder);
  }
  for (const tid of holderOf.values()) {
    if (details.size === wanted.size) break;
    readSocketTables(tid, wanted, details);
  }
  for (const s of sockets) {
    const d = details.get(s.ino);
    if (d) writer.addSocket({ object: s.objectId, ...d });
  }
}
