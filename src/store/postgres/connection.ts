import pg from 'pg';
import { CkptdbError } from '../../errors.js';
import { redactUrl } from './location.js';

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function integer(text: string): number | bigint {
  const n = BigInt(text);
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

const raw = (text: string) => text;

/**
 * Values as ckptdb reads them from SQLite: integers as numbers, or bigints where a number
 * would round (bigint columns: positions, inodes); sums and counts too; booleans as 1 and
 * 0; JSON, dates and times as the text PostgreSQL prints. Everything else as pg gives it.
 */
const PARSERS: Record<number, (text: string) => unknown> = {
  16: (t) => (t === 't' ? 1 : 0), // bool
  20: integer, // int8
  1700: (t) => (/^-?\d+$/.test(t) ? integer(t) : Number(t)), // numeric
  114: raw, // json
  3802: raw, // jsonb
  1082: raw, // date
  1083: raw, // time
  1114: raw, // timestamp
  1184: raw, // timestamptz
  1266: raw, // timetz
};

export const STORE_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    (format ?? 'text') === 'text' && PARSERS[oid] ? PARSERS[oid] : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface ConnectOptions {
  /** Milliseconds to wait for the server; default 10 s. */
  connectTimeoutMs?: number;
}

/** pg's options for a store URL: ckptdb's value types, its name in pg_stat_activity. */
export function clientConfig(url: string, opts: ConnectOptions = {}): pg.ClientConfig {
  return {
    connectionString: url,
    types: STORE_TYPES,
    application_name: 'ckptdb',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  };
}

/**
 * A connected client. A connection lost while idle is remembered, not thrown from an
 * event: the next query fails with it, as one error.
 */
export async function connect(url: string, opts: ConnectOptions = {}): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client(clientConfig(url, opts));
  } catch (e) {
    throw new CkptdbError('BAD_ARGUMENT', `${redactUrl(url)} is not a PostgreSQL URL ckptdb can read: ${(e as Error).message}`);
  }
  watchConnection(client);
  try {
    await client.connect();
  } catch (e) {
    await disconnect(client);
    throw postgresError(e, url, true);
  }
  return client;
}

const lostConnections = new WeakMap<pg.Client, Promise<never>>();

/**
 * A connection lost while idle is remembered, not thrown from an event; a wait on the
 * server (a cursor's next rows) races connectionLost(), which fails when the connection
 * goes: pg does not always fail what was waiting on a connection that ended.
 */
function watchConnection(client: pg.Client): void {
  const lost = new Promise<never>((_resolve, reject) => {
    client.on('error', reject);
    client.on('end', () => reject(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' })));
  });
  lost.catch(() => undefined);
  lostConnections.set(client, lost);
}

/** Fails when the client's connection ends or fails. */
export function connectionLost(client: pg.Client): Promise<never> {
  return lostConnections.get(client) ?? new Promise<never>(() => undefined);
}

/** Ends the connection; at once when it is gone already. */
export async function disconnect(client: pg.Client): Promise<void> {
  await Promise.race([client.end(), connectionLost(client)]).catch(() => undefined);
}

/** A query that fails, rather than waits for ever, when the connection is gone. */
export function queryOrLost(client: pg.Client, text: string): Promise<pg.QueryResult> {
  return Promise.race([client.query(text), connectionLost(client)]);
}

/**
 * What went wrong talking to PostgreSQL, as one line naming the database. connecting:
 * the error ended a connection being made; a reset of one made already (the server
 * stopped mid-query) is a lost connection.
 */
export function postgresError(e: unknown, url: string, connecting = false): CkptdbError {
  if (e instanceof CkptdbError) return e;
  const where = redactUrl(url);
  const err = e as Error & { code?: string; errno?: number };
  const message = (err.message ?? String(e)).split('\n')[0]!;
  switch (err.code) {
    case '28P01':
    case '28000':
      return new CkptdbError('PERMISSION', `PostgreSQL at ${where} refused the login: ${message}`, 'check the user and password (URL, PGUSER, PGPASSWORD, ~/.pgpass)', { cause: e });
    case '3D000':
      return new CkptdbError('STORE_NOT_FOUND', `PostgreSQL at ${where}: ${message}`, 'create it first (createdb), or name another with --db', { cause: e });
    case '42501':
      return new CkptdbError('PERMISSION', `PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
    case '57014':
      return new CkptdbError('SQL_ERROR', `PostgreSQL at ${where} cancelled the query: ${message}`, undefined, { cause: e });
    case '25006':
      return new CkptdbError('READ_ONLY', `query refused: ${message}`, undefined, { cause: e });
    case '57P01':
    case '57P02':
    case '57P03':
      return new CkptdbError('CONNECTION', `lost the connection to PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
    case 'ECONNREFUSED':
    case 'ENOENT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'EACCES':
      return new CkptdbError('CONNECTION', `cannot reach PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
    case 'ECONNRESET':
    case 'EPIPE':
      return connecting
        ? new CkptdbError('CONNECTION', `cannot reach PostgreSQL at ${where}: ${message}`, undefined, { cause: e })
        : new CkptdbError('CONNECTION', `lost the connection to PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
  }
  if (/Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(message)) {
    return new CkptdbError('CONNECTION', `lost the connection to PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
  }
  if (typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    return new CkptdbError('SQL_ERROR', `SQL error: ${message}`, undefined, { cause: e });
  }
  return new CkptdbError('CONNECTION', `PostgreSQL at ${where}: ${message}`, undefined, { cause: e });
}
