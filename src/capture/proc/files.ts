/**
 * Which fds share one open file, decided by kcmp(KCMP_FILE) as the fds are read.
 *
 * Fds go into buckets by what an open file never changes while it lives (mount,
 * inode, access mode and open flags, type, and for some anon files their own id), so
 * an fd alone in its bucket costs no kcmp call. Inside a bucket the files found so far
 * are kept sorted in kcmp's order; a new fd is placed by binary search: log g calls
 * for g files in its bucket, one call for an fd inherited over fork, never all pairs.
 *
 * Tables are read in tid order and fds in fd order, so the first fd that reaches a
 * file is its lowest (pid, fd): the file's key is final when it is created, and
 * files and fds are written as they are found.
 *
 * Where kcmp cannot be asked (no permission), an fd joins the file with the same
 * evidence (bucket, position, flags) or starts its own; as in the kernel's own view,
 * a file whose sharing rests on such a guess is marked inferred (once its bucket
 * holds more than one fd: alone, there is nothing to guess).
 */
import { KCMP_FILE, KcmpError, type Kcmp } from '../kcmp.js';
import { fixedFlags, O_CLOEXEC } from './fdinfo.js';
import { nextHolder, type FdRecord } from './fds.js';
import { attempt, ProcReadError, readRecord, taskExists } from './procfs.js';

export interface FileGroup {
  /** The fd that reached the file first: it names the file and describes it. */
  first: FdRecord;
  /** A member kcmp may be asked about, or null when none may. */
  rep: FdRecord | null;
  members: FdRecord[];
  inferred: boolean;
  /** Whether some member was placed by evidence alone. */
  guessed: boolean;
  /** Its files row id, once written. */
  fileId: number | null;
}

export interface Placement {
  group: FileGroup;
  created: boolean;
  /** Groups written earlier that are now known to be inferred. */
  nowInferred: FileGroup[];
}

interface Bucket {
  size: number;
  /** Groups with a representative, in kcmp's order of it. */
  sorted: FileGroup[];
  all: FileGroup[];
  /** Groups with a member placed by evidence alone. */
  guessed: number;
  /** Built when the first guess is needed. */
  byEvidence: Map<string, FileGroup> | null;
}

/** kcmp answers "gone" this often for one fd before it is placed by evidence instead. */
const RETRIES = 8;

/** Fields of fdinfo that name the object itself and never change: a sharper bucket. */
const OWN_ID: Partial<Record<string, RegExp>> = {
  eventfd: /^eventfd-id:\s*(\S+)/m,
  timerfd: /^clockid:\s*(\S+)/m,
  anon: /^Pid:\s*(\S+)/m,
};

function bucketKey(r: FdRecord): string {
  const info = r.info!;
  const own = OWN_ID[r.type];
  const id = own && info.extra ? (own.exec(info.extra)?.[1] ?? '') : '';
  return `${info.mntId}|${info.ino}|${fixedFlags(info.flags)}|${r.type}|${id}`;
}

function evidence(r: FdRecord): string {
  return `${r.info!.pos}|${r.info!.flags & ~O_CLOEXEC}`;
}

/** Whether the fd still exists, switching to another task of its table if the one read through exited. */
function fdAlive(r: FdRecord): boolean {
  for (;;) {
    const res = attempt(() => readRecord(`/proc/${r.table.holder}/fdinfo/${r.fd}`));
    if (!(res instanceof ProcReadError) || res.failure !== 'gone') return true;
    if (taskExists(r.table.holder) || !nextHolder(r.table)) return false;
  }
}

type Search = { found: FileGroup } | { at: number } | 'vanished' | 'refused';

export class FilePlacer {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly kcmp: Kcmp | null) {}

  /** Finds the open file the fd refers to, or starts one; null when the fd vanished meanwhile. */
  place(r: FdRecord): Placement | null {
    if (!r.info || !r.kind) {
      // neither link nor fdinfo could be read: nothing tells what it shares
      return { group: { first: r, rep: null, members: [r], inferred: true, guessed: true, fileId: null }, created: true, nowInferred: [] };
    }
    const key = bucketKey(r);
    let b = this.buckets.get(key);
    if (!b) {
      b = { size: 0, sorted: [], all: [], guessed: 0, byEvidence: null };
      this.buckets.set(key, b);
    }
    const search: Search = this.kcmp && r.table.kcmpable ? this.search(b, r) : 'refused';
    if (search === 'vanished') return null;
    b.size++;
    const nowInferred: FileGroup[] = [];
    // a second fd in a bucket turns an earlier guess there into inferred sharing
    if (b.size === 2 && b.guessed) for (const g of b.all) if (g.guessed) this.infer(g, nowInferred);
    if (search !== 'refused' && 'found' in search) {
      search.found.members.push(r);
      return { group: search.found, created: false, nowInferred };
    }
    const asked = search !== 'refused';
    const same = asked && b.guessed === 0 ? undefined : this.byEvidence(b).get(evidence(r));
    if (same && (!asked || !same.rep)) {
      if (asked) {
        // a file known so far only by guesses gets a member kcmp may ask about
        same.rep = r;
        b.sorted.splice(search.at, 0, same);
      } else if (!same.guessed) {
        same.guessed = true;
        b.guessed++;
      }
      same.members.push(r);
      if (!same.inferred) this.infer(same, nowInferred);
      return { group: same, created: false, nowInferred };
    }
    const group: FileGroup = { first: r, rep: asked ? r : null, members: [r], inferred: !asked && b.size > 1, guessed: !asked, fileId: null };
    if (asked) b.sorted.splice(search.at, 0, group);
    else b.guessed++;
    b.all.push(group);
    if (b.byEvidence && !b.byEvidence.has(evidence(r))) b.byEvidence.set(evidence(r), group);
    return { group, created: true, nowInferred };
  }

  private infer(g: FileGroup, into: FileGroup[]): void {
    g.inferred = true;
    if (g.fileId !== null) into.push(g);
  }

  private byEvidence(b: Bucket): Map<string, FileGroup> {
    if (!b.byEvidence) {
      b.byEvidence = new Map();
      for (const g of b.all) if (!b.byEvidence.has(evidence(g.first))) b.byEvidence.set(evidence(g.first), g);
    }
    return b.byEvidence;
  }

  /** Binary search among the bucket's files by kcmp; representatives that exited are replaced or dropped. */
  private search(b: Bucket, r: FdRecord): Search {
    let lo = 0;
    let hi = b.sorted.length;
    let retries = 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const g = b.sorted[mid]!;
      let c: number;
      try {
        c = this.kcmp!.compare(r.table.holder, g.rep!.table.holder, KCMP_FILE, r.fd, g.rep!.fd);
      } catch (e) {
        if (!(e instanceof KcmpError)) throw e;
        if (!e.gone || ++retries > RETRIES) return 'refused';
        if (!fdAlive(r)) return 'vanished';
        if (!fdAlive(g.rep!) && !this.replaceRep(g)) {
          // nothing of the file is left to compare with: no later fd can be shown to share it
          b.sorted.splice(mid, 1);
          hi--;
        }
        continue;
      }
      if (c === 0) return { found: g };
      if (c < 0) hi = mid;
      else lo = mid + 1;
    }
    return { at: lo };
  }

  private replaceRep(g: FileGroup): boolean {
    for (const m of g.members) {
      if (m !== g.rep && m.table.kcmpable && fdAlive(m)) {
        g.rep = m;
        return true;
      }
    }
    return false;
  }
}
