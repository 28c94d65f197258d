/**
 * The private directory a dump or restore works in: beside the store, so that its
 * files are on the store's file system, mode 0700, as it holds the processes' memory.
 * It is removed on every way out; a ckptdb killed outright cannot, so the next one
 * removes what a dead ckptdb left once the criu it started is gone too.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const PREFIX = '.ckptdb-criu-';
const OWNERS = 'owners';

export class Scratch {
  private constructor(readonly dir: string) {}

  static create(storePath: string): Scratch {
    const parent = resolve(dirname(storePath));
    sweep(parent);
    const s = new Scratch(mkdtempSync(join(parent, PREFIX)));
    s.own([process.pid]);
    return s;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Records the processes that write here, so that no sweep removes it under them. */
  own(pids: number[]): void {
    writeFileSync(join(this.dir, OWNERS), pids.join(' ') + '\n', { mode: 0o600 });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A zombie has ended: an orphaned criu stays one where PID 1 does not reap. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** Removes the scratch directories whose ckptdb and criu have all ended. */
export function sweep(parent: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(parent, name);
    let owners: number[];
    try {
      owners = readFileSync(join(dir, OWNERS), 'utf8').trim().split(/\s+/).map(Number);
    } catch {
      // made but not yet claimed, or not ours: left alone
      continue;
    }
    if (owners.some((pid) => pid > 0 && alive(pid))) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
