/**
 * The PostgreSQL of a test run (test/setup/postgres.ts starts it): a database of its own
 * per call, and psql as the superuser.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's socket folder and bin folder, or why there is none. */
    postgres: { socketDir: string; binDir: string } | { missing: string };
  }
}

export interface TestPostgres {
  socketDir: string;
  binDir: string;
  /** A new, empty database; its URL (as the superuser, or as user). */
  database(prefix?: string): string;
  url(db: string, user?: string, password?: string): string;
  psql(db: string, sql: string): string;
  /** pg_dump of a database: its schema and every row, as text. */
  dump(db: string): string;
}

/** Why PostgreSQL tests skip, or null when they run. */
export function postgresMissing(): string | null {
  const p = inject('postgres');
  return 'missing' in p ? p.missing : null;
}

export function testPostgres(): TestPostgres {
  const p = inject('postgres');
  if ('missing' in p) throw new Error(p.missing);
  const { socketDir, binDir } = p;
  const psql = (db: string, sql: string) =>
    execFileSync(join(binDir, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' });
  const url = (db: string, user = 'postgres', password?: string) =>
    `postgresql://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@/${db}?host=${encodeURIComponent(socketDir)}`;
  return {
    socketDir,
    binDir,
    url,
    psql,
    database(prefix = 't') {
      const db = `${prefix}_${randomBytes(6).toString('hex')}`;
      psql('postgres', `CREATE DATABASE ${db}`);
      return url(db);
    },
    // without the random key of pg_dump's \restrict lines, which differs from dump to dump
    dump: (db) =>
      execFileSync(join(binDir, 'pg_dump'), ['-h', socketDir, '-U', 'postgres', '--no-owner', db], { encoding: 'utf8', maxBuffer: 1 << 28 })
        .replace(/^\\(un)?restrict .*$/gm, ''),
  };
}

/** The database name of a URL made by database(). */
export function databaseOf(url: string): string {
  return /@\/([^?]+)/.exec(url)![1]!;
}
