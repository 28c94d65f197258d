/**
 * A private, throwaway PostgreSQL cluster for tests and benchmarks: initdb into a fresh
 * folder, then a server that listens on a unix socket in that folder only, with fsync
 * off. PostgreSQL will not run as root, so both run as the postgres user. stop() ends
 * the server and removes the folder; so does the exit of the process that started it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface Cluster {
  /** The folder of the server's socket: the host of its URLs. */
  socketDir: string;
  binDir: string;
  /** A URL for database `db` as `user` (default: the superuser, postgres). */
  url(db: string, user?: string, password?: string): string;
  /** Runs SQL as the superuser through psql; returns its output (unaligned, tuples only). */
  psql(db: string, sql: string): string;
  stop(): void;
}

/** Where initdb and pg_ctl are: CKPTDB_TEST_PG_BIN, Debian's PostgreSQL 15, or PATH. */
export function postgresBinDir(env = process.env): string | null {
  const candidates = [env.CKPTDB_TEST_PG_BIN, '/usr/lib/postgresql/15/bin', ...(env.PATH ?? '').split(delimiter)].filter((d): d is string => !!d);
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'))) ?? null;
}

/** A role that logs in with a password only (scram), for the tests of a refused login. */
export const PASSWORD_ROLE = { name: 'ckptdb_pw', password: 'right-password' };

export function startCluster(binDir: string): Cluster {
  const dir = mkdtempSync(join(tmpdir(), 'ckptdb-pg-'));
  const data = join(dir, 'data');
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const asPostgres = (args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  let running = false;
  const stop = () => {
    if (running) spawnSync('runuser', ['-u', 'postgres', '--', join(binDir, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    running = false;
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', stop);
  };
  process.on('exit', stop);
  try {
    asPostgres([join(binDir, 'initdb'), '-A', 'trust', '-N', '-E', 'UTF8', '-D', data]);
    // the password role logs in by password alone, everyone else is trusted
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(hba, `local all ${PASSWORD_ROLE.name} scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    asPostgres([
      join(binDir, 'pg_ctl'), '-w', '-D', data, '-l', join(dir, 'server.log'),
      '-o', `-k ${dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off`, 'start',
    ]);
    running = true;
  } catch (e) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
    stop();
    throw new Error(`cannot start a PostgreSQL cluster: ${(e as { stderr?: string }).stderr ?? (e as Error).message}${log}`);
  }
  const cluster: Cluster = {
    socketDir: dir,
    binDir,
    url: (db, user = 'postgres', password) =>
      `postgresql://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@/${db}?host=${encodeURIComponent(dir)}`,
    psql: (db, sql) =>
      execFileSync(join(binDir, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' }),
    stop,
  };
  cluster.psql('postgres', `CREATE ROLE ${PASSWORD_ROLE.name} LOGIN SUPERUSER PASSWORD '${PASSWORD_ROLE.password}'`);
  return cluster;
}
