import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';

/** The package root: `migrations/` and `sql/` ship beside `dist/` and `src/`. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const migrationsDir = join(packageRoot, 'migrations');
export const sqlDir = join(packageRoot, 'sql');

/** `$XDG_DATA_HOME/ckptdb/store.sqlite`, falling back to `~/.local/share`. */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/')
    ? env.XDG_DATA_HOME
    : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'ckptdb', 'store.sqlite');
}
