/**
 * The reader of a PostgreSQL fleet store (reader.ts has the interface and the SQLite
 * one), in a module of its own: the PostgreSQL client loads only when one is opened.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { CkptdbError } from '../errors.js';
import { storageSummary, type ChunkCounts, type CriuStorageSummary } from '../formats/criu/summary.js';
import type { StoreSchema } from '../store/schema.js';
import { statement } from '../store/sqlFile.js';
import { clientConfig, connect, disconnect, postgresError, queryOrLost } from '../store/postgres/connection.js';
import { openRows } from '../store/postgres/cursor.js';
import { redactUrl } from '../store/postgres/location.js';
import { checkPostgresSchema } from '../store/postgres/migrate.js';
import { withValues, type SqlValue } from '../store/postgres/statement.js';
import type { Params } from './params.js';
import { checkPostgresQuery } from './postgresGuard.js';
import { BaseReader, type AdHocOptions, type ReadRows } from './reader.js';
import { uniqueNames, type Row } from './rows.js';
import type { CheckpointGraph, GraphOptions } from './graph/types.js';
import { buildGraph } from './graph/build.js';

const DEFAULT_TIMEOUT_MS = 60_000;

/** A PostgreSQL store, on one connection of its own. */
export class PostgresReader extends BaseReader {
  readonly dialect = 'postgres';
  readonly location: string;
  private kyselyInstance: Kysely<StoreSchema> | null = null;

  private constructor(private readonly client: pg.Client, readonly url: string) {
    super();
    this.location = redactUrl(url);
  }

  static async open(url: string): Promise<PostgresReader> {
    const client = await connect(url);
    try {
      await checkPostgresSchema(client, redactUrl(url));
    } catch (e) {
      await disconnect(client);
      throw postgresError(e, url);
    }
    return new PostgresReader(client, url);
  }

  protected async run(sql: string, params: Params): Promise<ReadRows> {
    return this.stream(withValues(sql, params as Record<string, SqlValue>));
  }

  async sql(sql: string, params: Params = {}, opts: AdHocOptions = {}): Promise<ReadRows> {
    checkPostgresQuery(sql);
    const text = withValues(sql, params as Record<string, SqlValue>);
    const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) throw new CkptdbError('BAD_ARGUMENT', `statement timeout ${String(timeout)} ms is not a positive number of ms`);
    try {
      await this.client.query('BEGIN READ ONLY');
      await this.client.query(`SET LOCAL statement_timeout = ${timeout}`);
    } catch (e) {
      throw postgresError(e, this.url);
    }
    // nothing the statement did is kept: the transaction ends in a rollback, however it ends
    return this.stream(text, () => queryOrLost(this.client, 'ROLLBACK').then(() => undefined));
  }

  async criuSummary(id: number): Promise<CriuStorageSummary> {
    const roles = await this.all<CriuStorageSummary['roles'][number]>(statement('internal/criu.sql', 'checkpoint_files_by_role'), { checkpoint_id: id });
    const [counts] = await this.all<ChunkCounts>(statement('internal/postgres/criu.sql', 'checkpoint_chunks'), { checkpoint_id: id });
    return storageSummary(roles, counts!);
  }

  /** Drawn from a scratch store the checkpoint is read into: the graph's queries are SQLite's. */
  async graph(id: number, opts: GraphOptions = {}): Promise<CheckpointGraph> {
    const { withPulledCheckpoint } = await import('../store/postgres/scratch.js');
    return withPulledCheckpoint(this.url, id, (store) => buildGraph(store.db, id, opts), { hashesOnly: true });
  }

  kysely(): Kysely<StoreSchema> {
    return (this.kyselyInstance ??= postgresKysely(this.url));
  }

  async close(): Promise<void> {
    await this.kyselyInstance?.destroy();
    await disconnect(this.client);
  }

  private async stream(text: string, after?: () => Promise<void>): Promise<ReadRows> {
    const url = this.url;
    let s;
    try {
      s = await openRows(this.client, text);
    } catch (e) {
      await after?.().catch(() => undefined);
      throw postgresError(e, url);
    }
    const columns = uniqueNames(s.columns);
    const source = s.rows;
    async function* rows(): AsyncGenerator<Row> {
      try {
        for await (const values of source) {
          const row: Row = {};
          for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i];
          yield row;
        }
      } catch (e) {
        throw postgresError(e, url);
      } finally {
        await source.return(undefined);
        await after?.().catch(() => undefined);
      }
    }
    return { columns, rows: rows(), text: [] };
  }
}

/**
 * A typed kysely instance on a PostgreSQL store, with values read as from SQLite
 * (bigint columns as numbers where exact). Its pool holds one connection; destroy() closes it.
 */
export function postgresKysely(url: string): Kysely<StoreSchema> {
  return new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool: new pg.Pool({ ...clientConfig(url), max: 1 }) }) });
}
