/**
 * Socket details for the sockets of a capture, namespace by namespace: each network
 * namespace their holders are in is asked once. Unix sockets come from sock_diag,
 * which names each one's peer; inet, netlink and packet sockets from /proc/net, whose
 * tables show both ends of a connection. Where sock_diag cannot be asked (entering
 * the namespace is not permitted, the kernel has no unix_diag), the unix sockets of
 * that namespace come from /proc/net/unix, peers unknown, and the capture says so.
 */
import { socketStateName, socketTypeName, unixAddressText } from '../../store/socketNames.js';
import { NetlinkError } from '../netlink.js';
import { dumpUnixSockets, type UnixSocketDiag } from '../unixDiag.js';
import type { CheckpointWriter } from '../../store/writer/writer.js';
import { readSocketTables, readUnixTable, type SocketDetails } from './net.js';
import { attempt, ProcReadError, readLink, taskExists } from './procfs.js';
import type { CaptureWarnings } from './warnings.js';

/** How the unix sockets of one network namespace were read; kept in the checkpoint's meta. */
export type UnixSource =
  | { netns: string; via: 'sock_diag' }
  | { netns: string; via: '/proc/net/unix'; reason: string };

function unixDetails(d: UnixSocketDiag): SocketDetails {
  return {
    family: 'unix',
    type: socketTypeName(d.type),
    protocol: null,
    state: socketStateName(d.state),
    localAddr: d.name ? unixAddressText(d.name) : null,
    peerIno: d.peer,
  };
}

/** The unix sockets of the namespace tid is in; null when tid exited before it could be asked. */
function readUnix(netns: string, tid: number, wanted: Set<string>, into: Map<string, SocketDetails>): UnixSource | null {
  try {
    for (const d of dumpUnixSockets((ino) => wanted.has(String(ino)) && !into.has(String(ino)), `/proc/${tid}/ns/net`)) {
      into.set(String(d.ino), unixDetails(d));
    }
    return { netns, via: 'sock_diag' };
  } catch (e) {
    if (!(e instanceof NetlinkError)) throw e;
    if (!taskExists(tid)) return null;
    readUnixTable(tid, wanted, into);
    return { netns, via: '/proc/net/unix', reason: e.message };
  }
}

/** A socket met among the fds: its inode and a task holding it, whose network namespace shows it. */
export interface SocketSeen {
  ino: string;
  holder: number;
}

export interface SocketsRead {
  /** What the kernel shows of each socket, by inode. */
  details: Map<string, SocketDetails>;
  /** How the unix sockets of each network namespace were read; kept in the checkpoint's meta. */
  sources: UnixSource[];
}

/** Reads every network namespace the sockets' holders are in, once each. */
export function readSockets(sockets: readonly SocketSeen[]): SocketsRead {
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
  const sources: UnixSource[] = [];
  for (const [ns, tid] of holderOf) {
    if (details.size === wanted.size) break;
    const source = readUnix(ns, tid, wanted, details);
    if (source) sources.push(source);
    readSocketTables(tid, wanted, details);
  }
  return { details, sources };
}

/** Writes what was read of each socket object. */
export function writeSockets(sockets: readonly { objectId: number; ino: string }[], read: Map<string, SocketDetails>, writer: CheckpointWriter, warnings: CaptureWarnings): void {
  for (const s of sockets) {
    const d = read.get(s.ino);
    if (!d) continue;
    writer.addSocket({ object: s.objectId, ...d });
    if (d.family === 'unix' && d.attrs?.peer === 'unknown') warnings.unixPeersUnknown++;
  }
}
