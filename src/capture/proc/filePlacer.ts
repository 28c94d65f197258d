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
 * What is kept per open file is a few numbers in growing typed arrays (the fd it is
 * compared through, flags, the evidence a guess compares) and, for the first file of
 * a bucket, its key as numbers (bucketIndex.ts), never an fd's record or a string; a
 * bucket of one file (most are: a socket, a pipe's end, a file opened once) is that
 * file's number alone. So the placer's memory grows with the open files of a capture
 * by some tens of bytes each.
 */
import { KCMP_FILE, KcmpError, type Kcmp } from '../kcmp.js';
import { BucketIndex, bucketHash } from './bucketIndex.js';
import { grownArray } from './grownArray.js';
import { R_BUCKET, R_FD, R_FLAGS, R_POS, type TableState, nextHolder } from './fdRecords.js';
import { attempt, ProcReadError, readRecord, taskExists } from './procfs.js';

/** A bucket of more than one file. */
interface Bucket {
  size: number;
  /** Files with a representative, in kcmp's order of it. */
  sorted: number[];
  all: number[];
  /** Files with a member placed by evidence alone. */
  guessed: number;
  /** Built when the first guess is needed. */
  byEvidence: Map<string, number> | null;
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

const INFERRED = 1;
const GUESSED = 2;

type Search = { found: number } | { at: number } | 'vanished' | 'refused';

function evidenceOf(records: readonly unknown[], at: number): string {
  return `${records[at + R_POS] as string}|${records[at + R_FLAGS] as number}`;
}

/** Per file, by its number. */
class Files {
  count = 0;
  /** A member kcmp may be asked about (table index, -1 when none may, and fd). */
  repTable = new Int32Array(1024);
  repFd = new Int32Array(1024);
  marks = new Uint8Array(1024);
  /**
   * Position and flags of the fd that found it: what a guess compares (`pos|flags`),
   * as numbers; NaN for a file with no evidence. Evidence that would not read back as
   * the same text is kept as text in `oddEvidence`.
   */
  pos = new Float64Array(1024);
  flags = new Int32Array(1024);
  readonly oddEvidence = new Map<number, string>();
  /** The other members, (table index, fd) pairs: stand-ins for the representative if it exits. */
  readonly others = new Map<number, number[]>();

  /** Adds a file found through the fd whose record starts at `at`; no records for one without evidence. */
  add(repTable: number, repFd: number, marks: number, records: readonly unknown[] | null, at: number): number {
    const n = this.count++;
    if (n === this.repTable.length) {
      const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T): T => grownArray(a, a.length * 2);
      this.repTable = grow(this.repTable);
      this.repFd = grow(this.repFd);
      this.marks = grow(this.marks);
      this.pos = grow(this.pos);
      this.flags = grow(this.flags);
    }
    this.repTable[n] = repTable;
    this.repFd[n] = repFd;
    this.marks[n] = marks;
    this.pos[n] = NaN;
    if (records) {
      const pos = records[at + R_POS];
      const flags = records[at + R_FLAGS];
      const p = typeof pos === 'string' ? Number(pos) : NaN;
      if (Number.isSafeInteger(p) && String(p) === pos && flags === (flags as number | 0)) {
        this.pos[n] = p;
        this.flags[n] = flags as number;
      } else {
        this.oddEvidence.set(n, evidenceOf(records, at));
      }
    }
    return n;
  }

  evidence(n: number): string {
    const p = this.pos[n]!;
    return Number.isNaN(p) ? (this.oddEvidence.get(n) ?? '') : `${p}|${this.flags[n]}`;
  }

  member(n: number, table: number, fd: number): void {
    const list = this.others.get(n);
    if (list) list.push(table, fd);
    else this.others.set(n, [table, fd]);
  }
}

export class FilePlacer {
  /** Each bucket by its key, through its first file. */
  private readonly index = new BucketIndex();
  /** Buckets of more than one file, by their first file. */
  private readonly shared = new Map<number, Bucket>();
  private readonly files = new Files();
  private readonly placement: Placement = { fileNo: 0, created: false, inferred: false, nowInferred: [] };

  /** `tables` are the capture's tables by index, with their current holders. */
  constructor(
    private readonly kcmp: Kcmp | null,
    private readonly tables: readonly TableState[],
  ) {}

  /**
   * Finds the open file of the fd whose record starts at `at` in `records` (read from
   * table `table`), or starts one; null when the fd vanished meanwhile.
   */
  place(table: number, records: readonly unknown[], at: number): Placement | null {
    const f = this.files;
    const fd = records[at + R_FD] as number;
    const key = records[at + R_BUCKET] as string | null;
    this.placement.nowInferred.length = 0;
    if (key === null) {
      // neither link nor fdinfo could be read: nothing tells what it shares
      return this.result(f.add(-1, -1, INFERRED | GUESSED, null, at), true, true);
    }
    const hash = bucketHash(key);
    const first = this.index.find(key, hash);
    if (first < 0) {
      // the first fd of a bucket: nothing to compare with
      const asked = this.kcmp !== null && this.tables[table]!.kcmpable;
      const n = f.add(asked ? table : -1, asked ? fd : -1, asked ? 0 : GUESSED, records, at);
      this.index.add(key, hash, n);
      return this.result(n, true, false);
    }
    let b = this.shared.get(first);
    if (!b) {
      b = { size: 1, sorted: f.repTable[first]! >= 0 ? [first] : [], all: [first], guessed: f.marks[first]! & GUESSED ? 1 : 0, byEvidence: null };
      this.shared.set(first, b);
    }
    const search: Search = this.kcmp && this.tables[table]!.kcmpable ? this.search(b, table, fd) : 'refused';
    if (search === 'vanished') return null;
    b.size++;
    // a second fd in a bucket turns an earlier guess there into inferred sharing
    if (b.size === 2 && b.guessed) for (const g of b.all) if (f.marks[g]! & GUESSED) this.infer(g);
    if (search !== 'refused' && 'found' in search) {
      f.member(search.found, table, fd);
      return this.result(search.found, false, (f.marks[search.found]! & INFERRED) !== 0);
    }
    const asked = search !== 'refused';
    const evidence = evidenceOf(records, at);
    const same = asked && b.guessed === 0 ? undefined : this.byEvidence(b).get(evidence);
    if (same !== undefined && (!asked || f.repTable[same]! < 0)) {
      if (asked) {
        // a file known so far only by guesses gets a member kcmp may ask about
        f.repTable[same] = table;
        f.repFd[same] = fd;
        b.sorted.splice(search.at, 0, same);
      } else {
        if (!(f.marks[same]! & GUESSED)) {
          f.marks[same]! |= GUESSED;
          b.guessed++;
        }
        f.member(same, table, fd);
      }
      if (!(f.marks[same]! & INFERRED)) this.infer(same);
      return this.result(same, false, true);
    }
    const n = f.add(asked ? table : -1, asked ? fd : -1, asked ? 0 : GUESSED | (b.size > 1 ? INFERRED : 0), records, at);
    if (asked) b.sorted.splice(search.at, 0, n);
    else b.guessed++;
    b.all.push(n);
    if (b.byEvidence && !b.byEvidence.has(evidence)) b.byEvidence.set(evidence, n);
    return this.result(n, true, (f.marks[n]! & INFERRED) !== 0);
  }

  private result(fileNo: number, created: boolean, inferred: boolean): Placement {
    const p = this.placement;
    p.fileNo = fileNo;
    p.created = created;
    p.inferred = inferred;
    return p;
  }

  /** Every file in a bucket has been handed out already: its row must now be marked. */
  private infer(n: number): void {
    this.files.marks[n]! |= INFERRED;
    this.placement.nowInferred.push(n);
  }

  private byEvidence(b: Bucket): Map<string, number> {
    if (!b.byEvidence) {
      b.byEvidence = new Map();
      for (const n of b.all) {
        const e = this.files.evidence(n);
        if (!b.byEvidence.has(e)) b.byEvidence.set(e, n);
      }
    }
    return b.byEvidence;
  }

  /** Binary search among the bucket's files by kcmp; representatives that exited are replaced or dropped. */
  private search(b: Bucket, table: number, fd: number): Search {
    const f = this.files;
    let lo = 0;
    let hi = b.sorted.length;
    let retries = 0;
    const mine = this.tables[table]!;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const g = b.sorted[mid]!;
      let c: number;
      try {
        c = this.kcmp!.compare(mine.holder, this.tables[f.repTable[g]!]!.holder, KCMP_FILE, fd, f.repFd[g]!);
      } catch (e) {
        if (!(e instanceof KcmpError)) throw e;
        if (!e.gone || ++retries > RETRIES) return 'refused';
        if (!this.fdAlive(table, fd)) return 'vanished';
        if (!this.fdAlive(f.repTable[g]!, f.repFd[g]!) && !this.replaceRep(g)) {
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

  private replaceRep(n: number): boolean {
    const f = this.files;
    const others = f.others.get(n) ?? [];
    for (let i = 0; i < others.length; i += 2) {
      const table = others[i]!;
      const fd = others[i + 1]!;
      if (this.tables[table]!.kcmpable && this.fdAlive(table, fd)) {
        others.splice(i, 2, f.repTable[n]!, f.repFd[n]!);
        f.repTable[n] = table;
        f.repFd[n] = fd;
        return true;
      }
    }
    return false;
  }
}
