/**
 * Which fds share one open file, decided by kcmp(KCMP_FILE). Fds are bucketed by what
 * an open file never changes while it lives (mount, inode, access mode and open flags,
 * type, and for some anon files their own id), so an fd alone in its bucket costs no
 * kcmp call; a bucket of fds inherited over fork is sorted in n - 1 calls.
 */
import { KCMP_FILE, type Kcmp } from '../kcmp.js';
import { fixedFlags, O_CLOEXEC } from './fdinfo.js';
import type { FdRecord } from './fds.js';
import { attempt, ProcReadError, readText, taskExists } from './procfs.js';
import { findSharing, type SharedGroup, type SharingRules } from './sharing.js';
import type { CaptureWarnings } from './warnings.js';

/** Fields of fdinfo that name the object itself and never change: a sharper bucket. */
const OWN_ID: Partial<Record<string, RegExp>> = {
  eventfd: /^eventfd-id:\s*(\S+)/m,
  timerfd: /^clockid:\s*(\S+)/m,
  anon: /^Pid:\s*(\S+)/m,
};

function bucket(r: FdRecord): string {
  const info = r.info!;
  const own = OWN_ID[r.type];
  const id = own && info.extra ? (own.exec(info.extra)?.[1] ?? '') : '';
  return `${info.mntId}|${info.ino}|${fixedFlags(info.flags)}|${r.type}|${id}`;
}

/** An fd is gone when its table's tasks all exited or the fd was closed. */
function fdAlive(r: FdRecord): boolean {
  const table = r.table;
  for (;;) {
    const res = attempt(() => readText(`/proc/${table.holder}/fdinfo/${r.fd}`));
    if (!(res instanceof ProcReadError) || res.failure !== 'gone') return true;
    if (taskExists(table.holder)) return false;
    // the task it was read through exited; another user of the table still sees it
    table.users = table.users.filter((u) => u !== table.holder);
    if (table.users.length === 0) return false;
    table.holder = table.users[0]!;
  }
}

export function groupFiles(records: FdRecord[], kcmp: Kcmp | null, warnings: CaptureWarnings): SharedGroup<FdRecord>[] {
  const readable: FdRecord[] = [];
  const groups: SharedGroup<FdRecord>[] = [];
  for (const r of records) {
    // without link and fdinfo nothing tells what it shares: a file of its own, a guess
    if (r.info && r.kind) readable.push(r);
    else groups.push({ members: [r], inferred: true });
  }
  const rules: SharingRules<FdRecord> = {
    bucket,
    evidence: (r) => `${bucket(r)}|${r.info!.pos}|${r.info!.flags & ~O_CLOEXEC}`,
    kcmpable: (r) => r.table.kcmpable,
    compare: (a, b) => kcmp!.compare(a.table.holder, b.table.holder, KCMP_FILE, a.fd, b.fd),
    alive: fdAlive,
    order: (a, b) => a.table.name - b.table.name || a.fd - b.fd,
  };
  const found = findSharing(readable, rules);
  warnings.vanishedFds += found.vanished.length;
  return groups.concat(found.groups);
}
