/**
 * Finding which references point to one kernel object. References are first put into
 * buckets by evidence that sharing implies (the same inode for an open file, the same
 * address-space layout for an mm), so a reference alone in its bucket needs no kcmp
 * call at all. Inside a bucket they are sorted by kcmp's order and equal neighbours are
 * one object: n log n calls, never all pairs.
 *
 * Where kcmp cannot decide (no permission, unavailable, the answer keeps changing),
 * references are grouped by the best evidence and the group is marked inferred.
 */
import { KcmpError } from '../kcmp.js';

export interface SharingRules<T> {
  /** Equal for any two references that can share: sharing implies the same bucket. */
  bucket(item: T): string;
  /** The best guess at identity when kcmp cannot be asked. */
  evidence(item: T): string;
  /** Whether kcmp may be asked about this reference. */
  kcmpable(item: T): boolean;
  /** kcmp's order; throws KcmpError. */
  compare(a: T, b: T): number;
  /** After a "gone" answer: whether the reference still exists. */
  alive(item: T): boolean;
  /** The order that names a group by its first member, e.g. (pid, fd). */
  order(a: T, b: T): number;
}

export interface SharedGroup<T> {
  /** Sorted by rules.order; the first one names the object. */
  members: T[];
  inferred: boolean;
}

export interface SharingResult<T> {
  groups: SharedGroup<T>[];
  /** References that turned out to be gone while compared. */
  vanished: T[];
}

/** How often a bucket is sorted again after references vanished under it. */
const RETRIES = 4;

export function findSharing<T>(items: Iterable<T>, rules: SharingRules<T>): SharingResult<T> {
  const buckets = new Map<string, T[]>();
  for (const item of items) {
    const key = rules.bucket(item);
    const b = buckets.get(key);
    if (b) b.push(item);
    else buckets.set(key, [item]);
  }
  const groups: SharedGroup<T>[] = [];
  const vanished: T[] = [];
  for (const bucket of buckets.values()) {
    if (bucket.length === 1) {
      groups.push({ members: bucket, inferred: false });
      continue;
    }
    const found = groupBucket(bucket, rules, vanished);
    for (const g of found) {
      g.members.sort(rules.order);
      groups.push(g);
    }
  }
  return { groups, vanished };
}

function groupBucket<T>(bucket: T[], rules: SharingRules<T>, vanished: T[]): SharedGroup<T>[] {
  let asked = bucket.filter((i) => rules.kcmpable(i));
  const guessed = bucket.filter((i) => !rules.kcmpable(i));
  let groups: SharedGroup<T>[] = [];
  for (let attempt = 0; asked.length; attempt++) {
    try {
      groups = sortIntoGroups(asked, rules);
      break;
    } catch (e) {
      if (!(e instanceof KcmpError)) throw e;
      const alive = e.gone ? asked.filter((i) => rules.alive(i)) : asked;
      const kept = new Set(alive);
      for (const i of asked) if (!kept.has(i)) vanished.push(i);
      if (alive.length === asked.length || attempt === RETRIES) {
        // kcmp refused, or keeps failing without anything vanishing: fall back to evidence
        guessed.push(...alive);
        asked = [];
      } else {
        asked = alive;
      }
    }
  }
  if (guessed.length === 0) return groups;
  const byEvidence = new Map<string, SharedGroup<T>>();
  for (const g of groups) byEvidence.set(rules.evidence(g.members[0]!), g);
  for (const item of guessed) {
    const key = rules.evidence(item);
    const g = byEvidence.get(key);
    if (g) {
      g.members.push(item);
      g.inferred = true;
    } else {
      const created = { members: [item], inferred: true };
      byEvidence.set(key, created);
      groups.push(created);
    }
  }
  return groups;
}

/**
 * Sorts by kcmp and cuts the sorted run where neighbours differ. Answers seen while
 * sorting are remembered, so a neighbour pair the sort already compared costs nothing.
 */
function sortIntoGroups<T>(items: T[], rules: SharingRules<T>): SharedGroup<T>[] {
  const n = items.length;
  const index = new Map<T, number>();
  items.forEach((item, i) => index.set(item, i));
  const seen = new Map<number, number>();
  const pairKey = (a: T, b: T) => index.get(a)! * n + index.get(b)!;
  const sorted = [...items].sort((a, b) => {
    const r = rules.compare(a, b);
    seen.set(pairKey(a, b), r);
    return r;
  });
  const groups: SharedGroup<T>[] = [{ members: [sorted[0]!], inferred: false }];
  for (let i = 1; i < n; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    const known = seen.get(pairKey(a, b)) ?? seen.get(pairKey(b, a));
    const same = (known ?? rules.compare(a, b)) === 0;
    if (same) groups.at(-1)!.members.push(b);
    else groups.push({ members: [b], inferred: false });
  }
  return groups;
}
