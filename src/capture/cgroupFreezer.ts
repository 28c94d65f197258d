/**
 * The cgroup v2 freezer, for a tree that has a cgroup to itself: one write to
 * cgroup.freeze holds every task of it, however many, in a state that neither the
 * tasks nor their parents observe (a frozen task reads as sleeping, no SIGCHLD, no
 * job-control stop), and one write lets them go.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1), or null. */
function cgroup2Mount(): string | null {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4]!;
    }
  } catch {
    // no /proc/self/mountinfo: no cgroup either
  }
  return null;
}

/** The cgroup v2 path of a process ('/a/b'), or null (gone, or no v2 hierarchy). */
function cgroupOf(pid: number): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line ? line.slice(3) : null;
  } catch {
    return null;
  }
}

/** Every process in a cgroup and the cgroups below it. */
function membersOf(dir: string): number[] {
  const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) pids.push(...membersOf(join(dir, entry.name)));
  }
  return pids;
}

/**
 * The cgroup directory whose processes are exactly these (the cgroup of them all and
 * the cgroups below it), when it can be frozen and is not frozen already; else why not.
 */
export function ownCgroup(pids: readonly number[]): { dir: string; path: string } | { reason: string } {
  const mount = cgroup2Mount();
  if (!mount) return { reason: 'no cgroup v2 hierarchy is mounted' };
  const paths = new Set(pids.map(cgroupOf).filter((p) => p !== null));
  if (paths.size === 0) return { reason: 'the processes have no cgroup v2 path' };
  // the processes may sit in cgroups below the one they share; the shortest path is the candidate
  const top = [...paths].sort((a, b) => a!.length - b!.length)[0]!;
  if (top === '/') return { reason: 'the processes are in the root cgroup' };
  if ([...paths].some((p) => p !== top && !p!.startsWith(`${top}/`))) return { reason: 'the processes are in different cgroups' };
  const dir = join(mount, top);
  if (!existsSync(join(dir, 'cgroup.freeze'))) return { reason: `${dir} has no cgroup.freeze` };
  let members: number[];
  try {
    members = membersOf(dir);
  } catch (e) {
    return { reason: `cannot list ${dir}: ${(e as Error).message}` };
  }
  const wanted = new Set(pids);
  if (members.some((p) => !wanted.has(p))) return { reason: `${dir} holds other processes too` };
  if (readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim() !== '0') return { reason: `${dir} is frozen already` };
  return { dir, path: top };
}

/** Whether the process is in the cgroup of this path ('/a/b') or one below it. */
export function inCgroup(pid: number, path: string): boolean {
  const own = cgroupOf(pid);
  return own !== null && (own === path || own.startsWith(`${path}/`));
}

export function freezeCgroup(dir: string, frozen: boolean): void {
  writeFileSync(join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
}

/** Whether every task of the cgroup has reached the frozen state (cgroup.events says "frozen 1"). */
export function cgroupFrozen(dir: string): boolean {
  return /^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
}
