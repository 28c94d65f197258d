/**
 * Which fds share one open file, decided by kcmp(KCMP_FILE) as the fds are read.
 *
 * Fds go into buckets by what an open file never changes while it lives (mount,
 * inode, access mode and open flags, type, and for some anon files their own id), so
 * an fd alone in its bucket costs no kcmp call. Inside a bucket the files found so far
 * are kept sorted in kcmp's order; a new fd is placed by binary search: log g calls
 * for g files in its bucket, one call for an fd inherited over fork, never all pairs.
 *
 * Tables are placed in tid order and fds in fd order, so the first fd that reaches a
 * file is its lowest (pid, fd): the file's key is final when it is created, and files
 * and fds are written as they are found.
 *
 * Where kcmp cannot be asked (no permission), an fd joins the file with the same
 * evidence (bucket, position, flags) or starts its own; as in the kernel's own view,
 * a file whose sharing rests on such a guess is marked inferred (once its bucket
 * holds more than one fd: alone, there is nothing to guess).
 *
 * What is kept per file is a few numbers (its number, one fd to compare it through,
 * the other fds on it) and never an fd's record, so the placer's memory grows with the
 * open files of the capture, not with what was read of them.
 */
import { KCMP_FILE, KcmpError, type Kcmp } from '../kcmp.js';
import { R_BUCKET, R_FD, R_FLAGS, R_POS, type TableState, nextHolder } from './fdRecords.js';
import { attempt, ProcReadError, readRecord, taskExists } from './procfs.js';

interface Group {
  /** The open file's number in this capture (0, 1, 2, ... in the order found). */
  fileNo: number;
  /** A member kcmp may be asked about (table index and fd), or repTable -1 when none may. */
  repTable: number;
  repFd: number;
  /** The other members, (table index, fd) pairs: stand-ins for the representative if it exits. */
  others: number[] | null;
  inferred: boolean;
  /** Whether some member was placed by evidence alone. */
  guessed: boolean;
  /** Position and flags of the fd that found it: what a guess compares. */
  evidence: string;
}

interface Bucket {
  size: number;
  /** Groups with a representative, in kcmp's order of it. */
  sorted: Group[];
  all: Group[];
  /** Groups with a member placed by evidence alone. */
  guessed: number;
  /** Built when the first guess is needed. */
  byEvidence: Map<string, Group> | null;
}

/** Where an fd was placed; one object, reused by every call: read it before the next. */
export interface Placement {
  fileNo: number;
  /** A new open file, which this fd names. */
  created: boolean;
  /** For a created file: whether its sharing is inferred already. */
  inferred: boolean;
  /** Files handed out before that are now known to be inferred. */
  nowInferred: number[];
}

/** kcmp answers "gone" this often for one fd before it is placed by evidence instead. */
const RETRIES = 8;

type Search = { found: Group } | { at: number } | 'vanished' | 'refused';

function evidenceOf(records: readonly unknown[], at: number): string {
  return `${records[at + R_POS] as string}|${records[at + R_FLAGS] as number}`;
}

export class FilePlacer {
  private readonly buckets = new Map<string, Bucket>();
  private files = 0;
  private readonly placement: Placement = { fileNo: 0, created: false, inferred: false, nowInferred: [] };

  /** `tables` are the capture's tables by index, with their current holders. */
  constructor(
    private readonly kcmp: Kcmp | null,
    private readonly tables: readonly TableState[],
  ) {}

  /** Open files found so far. */
  get fileCount(): number {
    return this.files;
  }

  /**
   * Finds the open file of the fd whose record starts at `at` in `records` (read from
   * table `table`), or starts one; null when the fd vanished meanwhile.
   */
  place(table: number, records: readonly unknown[], at: number): Placement | null {
    const fd = records[at + R_FD] as number;
    const key = records[at + R_BUCKET] as string | null;
    const p = this.placement;
    p.nowInferred.length = 0;
    if (key === null) {
      // neither link nor fdinfo could be read: nothing tells what it shares
      return this.result(this.files++, true, true);
    }
    let b = this.buckets.get(key);
    if (!b) {
      b = { size: 0, sorted: [], all: [], guessed: 0, byEvidence: null };
      this.buckets.set(key, b);
    }
    const search: Search = this.kcmp && this.tables[table]!.kcmpable ? this.search(b, table, fd) : 'refused';
    if (search === 'vanished') return null;
    b.size++;
    // a second fd in a bucket turns an earlier guess there into inferred sharing
    if (b.size === 2 && b.guessed) for (const g of b.all) if (g.guessed) this.infer(g);
    if (search !== 'refused' && 'found' in search) {
      (search.found.others ??= []).push(table, fd);
      return this.result(search.found.fileNo, false, search.found.inferred);
    }
    const asked = search !== 'refused';
    const evidence = evidenceOf(records, at);
    const same = asked && b.guessed === 0 ? undefined : this.byEvidence(b).get(evidence);
    if (same && (!asked || same.repTable < 0)) {
      if (asked) {
        // a file known so far only by guesses gets a member kcmp may ask about
        same.repTable = table;
        same.repFd = fd;
        b.sorted.splice(search.at, 0, same);
      } else {
        if (!same.guessed) {
          same.guessed = true;
          b.guessed++;
        }
        (same.others ??= []).push(table, fd);
      }
      if (!same.inferred) this.infer(same);
      return this.result(same.fileNo, false, same.inferred);
    }
    const group: Group = {
      fileNo: this.files++, repTable: asked ? table : -1, repFd: asked ? fd : -1, others: asked ? null : [table, fd],
      inferred: !asked && b.size > 1, guessed: !asked, evidence,
    };
    if (asked) b.sorted.splice(search.at, 0, group);
    else b.guessed++;
    b.all.push(group);
    if (b.byEvidence && !b.byEvidence.has(evidence)) b.byEvidence.set(evidence, group);
    return this.result(group.fileNo, true, group.inferred);
  }

  private result(fileNo: number, created: boolean, inferred: boolean): Placement {
    const p = this.placement;
    p.fileNo = fileNo;
    p.created = created;
    p.inferred = inferred;
    return p;
  }

  /** Every group in a bucket has been handed out already: its row must now be marked. */
  private infer(g: Group): void {
    g.inferred = true;
    this.placement.nowInferred.push(g.fileNo);
  }

  private byEvidence(b: Bucket): Map<string, Group> {
    if (!b.byEvidence) {
      b.byEvidence = new Map();
      for (const g of b.all) if (!b.byEvidence.has(g.evidence)) b.byEvidence.set(g.evidence, g);
    }
    return b.byEvidence;
  }

  /** Binary search among the bucket's files by kcmp; representatives that exited are replaced or dropped. */
  private search(b: Bucket, table: number, fd: number): Search {
    let lo = 0;
    let hi = b.sorted.length;
    let retries = 0;
    const mine = this.tables[table]!;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const g = b.sorted[mid]!;
      let c: number;
      try {
        c = this.kcmp!.compare(mine.holder, this.tables[g.repTable]!.holder, KCMP_FILE, fd, g.repFd);
      } catch (e) {
        if (!(e instanceof KcmpError)) throw e;
        if (!e.gone || ++retries > RETRIES) return 'refused';
        if (!this.fdAlive(table, fd)) return 'vanished';
        if (!this.fdAlive(g.repTable, g.repFd) && !this.replaceRep(g)) {
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

  /** Whether the fd still exists, switching to another task of its table if the one read through exited. */
  private fdAlive(table: number, fd: number): boolean {
    const t = this.tables[table]!;
    for (;;) {
      const res = attempt(() => readRecord(`/proc/${t.holder}/fdinfo/${fd}`));
      if (!(res instanceof ProcReadError) || res.failure !== 'gone') return true;
      if (taskExists(t.holder) || !nextHolder(t)) return false;
    }
  }

  private replaceRep(g: Group): boolean {
    const others = g.others ?? [];
    for (let i = 0; i < others.length; i += 2) {
      const table = others[i]!;
      const fd = others[i + 1]!;
      if (this.tables[table]!.kcmpable && this.fdAlive(table, fd)) {
        others.splice(i, 2, g.repTable, g.repFd);
        g.repTable = table;
        g.repFd = fd;
        return true;
      }
    }
    return false;
  }
}
