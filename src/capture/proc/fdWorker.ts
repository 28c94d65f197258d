/**
 * The thread that reads fds while the main thread places and writes them: /proc reads
 * are system calls, placing (kcmp) and writing (SQLite) are the main thread's, so the
 * two overlap on two cores. Reads every table given in workerData, in order, and posts
 * one WireResult per table.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readTableRecords } from './fdReaders.js';
import { toWire, type WireResult, type WireTable } from './fdWire.js';
import type { FdTableRef, InodeCache } from './fds.js';

const inodes: InodeCache = new Map();
(workerData as WireTable[]).forEach((t, index) => {
  const table: FdTableRef = { ...t, kcmpable: false, objectId: null };
  const { records, vanished } = readTableRecords(table, inodes);
  const result: WireResult = { index, holder: table.holder, users: table.users, records: records.map(toWire), vanished };
  parentPort!.postMessage(result);
});
