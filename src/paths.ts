import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';

/**
 * The package root, the nearest folder above this module with a package.json:
 * `migrations/` and `sql/` ship there, whether this runs from src/, dist/ or a
 * compiled benchmark tree.
 */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    if (dirname(dir) === dir) throw new Error(`ckptdb: no package root above ${start}`);
  }
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const migrationsDir = join(packageRoot, 'migrations');
export const sqlDir = join(packageRoot, 'sql');

/** `$XDG_DATA_HOME/ckptdb/store.sqlite`, falling back to `~/.local/share`. */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/')
    ? env.XDG_DATA_HOME
    : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'ckptdb', 'store.sqlite');
}
