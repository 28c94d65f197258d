/**
 * Where a store is: a SQLite file, or a PostgreSQL database named by a URL
 * (`postgres://user@host/db`, `postgresql:///db?host=/run/postgresql`). Parts the URL
 * leaves out come from libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE), as psql takes them.
 */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:***@');
}
