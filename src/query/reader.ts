import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { CkptdbError } from '../errors.js';
import { criuStorageSummary, type CriuStorageSummary } from '../formats/criu/summary.js';
import type { CheckpointDetails, CheckpointRow, CheckpointSummary } from '../store/store.js';
import { noSuchCheckpoint } from '../store/store.js';
import { asStoreError } from '../store/open.js';
import type { StoreSchema } from '../store/schema.js';
import { statement } from '../store/sqlFile.js';
import { isPostgresLocation } from '../store/postgres/location.js';
import { bindCanned, cannedQuery, textColumnsOf, type CannedQuery } from './canned.js';
import { sqlError } from './guard.js';
import type { Params } from './params.js';
import { runStatement, type Row } from './rows.js';
import { QuerySession } from './session.js';
import type { TextColumn } from './textColumns.js';
import type { CheckpointGraph, GraphOptions } from './graph/types.js';
import { stateText } from '../store/textForms.js';

/** Rows of a query: column names known before any row, rows streaming (iterate once). */
export interface ReadRows {
  columns: string[];
  rows: Iterable<Row> | AsyncIterable<Row>;
  /**
   * Text forms the renderer adds beside raw columns: a canned query's `-- text:` header
   * lines, the same on either dialect (the rows hold only raw columns); none for ad-hoc SQL.
   */
  text: TextColumn[];
}

export type Dialect = 'sqlite' | 'postgres';

export interface AdHocOptions {
  /** PostgreSQL: the statement timeout, in ms; default 60 s. */
  timeoutMs?: number;
}

/**
 * Read-only access to a store of either dialect: a SQLite file or a PostgreSQL fleet
 * store. The query commands are written once, against this: canned queries, ad-hoc SQL
 * behind each dialect's guard, checkpoints by id or the newest (of a host), summaries.
 */
export interface Reader {
  readonly dialect: Dialect;
  /** The store, for messages: a path, or a URL without its password. */
  readonly location: string;
  canned(name: string, params?: Params, opts?: { host?: string }): Promise<ReadRows>;
  sql(sql: string, params?: Params, opts?: AdHocOptions): Promise<ReadRows>;
  /** The given checkpoint after checking it exists (and is of host), or the newest (of host). */
  checkpointId(id?: number, host?: string): Promise<number>;
  describe(id?: number, host?: string): Promise<CheckpointDetails>;
  listCheckpoints(host?: string): Promise<CheckpointSummary[]>;
  /** What a CRIU checkpoint keeps of CRIU's files. */
  criuSummary(id: number): Promise<CriuStorageSummary>;
  /** Who talks to whom in a checkpoint: processes and what connects them. */
  graph(id: number, opts?: GraphOptions): Promise<CheckpointGraph>;
  /** A typed query builder on the store; closed with the reader. */
  kysely(): Kysely<StoreSchema>;
  close(): Promise<void>;
}

/** Opens a reader on a store: a PostgreSQL URL, or the path of a SQLite file. */
export async function openReader(location: string): Promise<Reader> {
  // the PostgreSQL client loads only for a PostgreSQL store
  if (isPostgresLocation(location)) return (await import('./postgresReader.js')).PostgresReader.open(location);
  return new SqliteReader(QuerySession.open(location));
}

/** What either dialect's reader shares: ckptdb's own queries, run through run(). */
export abstract class BaseReader implements Reader {
  abstract readonly dialect: Dialect;
  abstract readonly location: string;
  /** Runs ckptdb's own SQL (sql/), trusted, with named parameters. */
  protected abstract run(sql: string, params: Params): Promise<ReadRows>;
  abstract sql(sql: string, params?: Params, opts?: AdHocOptions): Promise<ReadRows>;
  abstract criuSummary(id: number): Promise<CriuStorageSummary>;
  abstract graph(id: number, opts?: GraphOptions): Promise<CheckpointGraph>;
  abstract kysely(): Kysely<StoreSchema>;
  abstract close(): Promise<void>;

  protected async all<T>(sql: string, params: Params = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const r of (await this.run(sql, params)).rows) out.push(r as T);
    return out;
  }

  async canned(name: string, given: Params = {}, opts: { host?: string } = {}): Promise<ReadRows> {
    const q = cannedQuery(name);
    const result = await this.run(this.dialect === 'postgres' ? (q.postgresSql ?? q.sql) : q.sql, await this.bind(q, given, opts.host));
    return { ...result, text: textColumnsOf(q, result.columns) };
  }

  async checkpointId(id?: number, host?: string): Promise<number> {
    if (id === undefined) {
      const [row] = await this.all<{ id: number | null }>(statement('internal/store.sql', 'newest_checkpoint'), { host: host ?? null });
      if (row?.id === null || row?.id === undefined) {
        throw new CkptdbError('NO_SUCH_CHECKPOINT', host === undefined ? `no checkpoints in ${this.location}` : `no checkpoints of host ${host} in ${this.location}`, host === undefined ? 'capture one first' : '`ckptdb list` shows the hosts there are');
      }
      return row.id;
    }
    const [row] = await this.all<{ id: number; host: string | null }>(statement('internal/store.sql', 'checkpoint_of_host'), { id });
    if (!row) throw noSuchCheckpoint(id, this.location);
    if (host !== undefined && row.host !== host) throw new CkptdbError('NO_SUCH_CHECKPOINT', `checkpoint ${id} in ${this.location} is of host ${row.host ?? '(unknown)'}, not ${host}`);
    return id;
  }

  async describe(id?: number, host?: string): Promise<CheckpointDetails> {
    const checkpoint = await this.checkpointId(id, host);
    const [row] = await this.all<CheckpointRow>(statement('internal/store.sql', 'get_checkpoint'), { id: checkpoint });
    const counts: Record<string, number> = {};
    for (const r of await this.all<{ kind: string; n: number }>(statement('internal/store.sql', 'count_rows'), { id: checkpoint })) counts[r.kind] = r.n;
    const objects = await this.all<CheckpointDetails['objects'][number]>(statement('internal/store.sql', 'count_objects_by_kind'), { id: checkpoint });
    const states = (await this.all<{ state: string | null; tasks: number }>(statement('internal/store.sql', 'count_states'), { id: checkpoint }))
      .map((s) => ({ state: s.state, state_text: stateText(s.state), tasks: s.tasks }));
    return { ...row!, counts, objects, states };
  }

  listCheckpoints(host?: string): Promise<CheckpointSummary[]> {
    return this.all<CheckpointSummary>(statement('internal/store.sql', 'list_checkpoints'), { host: host ?? null });
  }

  /** Parameters as given, defaults for the rest, the checkpoint default resolved (of host). */
  private async bind(q: CannedQuery, given: Params, host: string | undefined): Promise<Params> {
    const { bound, checkpoints } = bindCanned(q, host !== undefined && given.host === undefined && q.params.some((p) => p.name === 'host') ? { ...given, host } : given);
    for (const c of checkpoints) bound[c.name] = await this.checkpointId(c.asked, host);
    return bound;
  }
}

/** A SQLite store, through a read-only query session. */
export class SqliteReader extends BaseReader {
  readonly dialect = 'sqlite';
  readonly location: string;

  constructor(readonly session: QuerySession) {
    super();
    this.location = session.path;
  }

  protected async run(sql: string, params: Params): Promise<ReadRows> {
    let stmt: Database.Statement;
    try {
      stmt = this.session.db.prepare(sql);
    } catch (e) {
      throw this.storeError(sqlError(e));
    }
    return this.checked(() => runStatement(stmt, params));
  }

  async sql(sql: string, params: Params = {}): Promise<ReadRows> {
    return this.checked(() => this.session.sql(sql, params));
  }

  /** A damaged store file is said to be one, whichever query found it. */
  private checked(run: () => { columns: string[]; rows: IterableIterator<Row> }): ReadRows {
    let result: { columns: string[]; rows: IterableIterator<Row> };
    try {
      result = run();
    } catch (e) {
      throw this.storeError(e);
    }
    const storeError = (e: unknown) => this.storeError(e);
    function* rows(): Generator<Row> {
      try {
        yield* result.rows;
      } catch (e) {
        throw storeError(e);
      }
    }
    return { columns: result.columns, rows: rows(), text: [] };
  }

  private storeError(e: unknown): unknown {
    const cause = (e instanceof CkptdbError ? e.cause : e) as { code?: string } | undefined;
    const code = cause?.code ?? '';
    return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' ? asStoreError(cause, this.location) : e;
  }

  async criuSummary(id: number): Promise<CriuStorageSummary> {
    return criuStorageSummary(this.session, id);
  }

  async graph(id: number, opts: GraphOptions = {}): Promise<CheckpointGraph> {
    return this.session.graph(id, opts);
  }

  kysely(): Kysely<StoreSchema> {
    return this.session.kysely();
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
