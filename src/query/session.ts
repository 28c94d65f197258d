import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { CkptdbError } from '../errors.js';
import { checkpointDetails, type CheckpointDetails } from '../store/describe.js';
import { noSuchCheckpoint } from '../store/store.js';
import type { StoreSchema } from '../store/schema.js';
import { bindCanned, cannedQuery, textColumnsOf, type CannedQuery } from './canned.js';
import { openReadOnlyDatabase } from './connection.js';
import { prepareReadOnly, sqlError } from './guard.js';
import { buildGraph } from './graph/build.js';
import type { CheckpointGraph, GraphOptions } from './graph/types.js';
import { storeKysely } from './kysely.js';
import type { Params } from './params.js';
import { runStatement, type QueryResult } from './rows.js';

/**
 * Read-only access to a store: ad-hoc SQL, canned queries, and a typed kysely
 * instance, all on one connection that cannot write. Results stream: iterate one
 * result's rows before starting the next query on the same session.
 */
export class QuerySession {
  private kyselyInstance: Kysely<StoreSchema> | null = null;

  constructor(readonly db: Database.Database, readonly path: string) {}

  static open(path: string): QuerySession {
    return new QuerySession(openReadOnlyDatabase(path), path);
  }

  /** Any read-only statement, with its parameters bound by name. */
  sql(sql: string, params: Params = {}): QueryResult {
    return runStatement(prepareReadOnly(this.db, sql), params);
  }

  /** A canned query of sql/ by name; parameters not given take their defaults. */
  canned(name: string, params: Params = {}): QueryResult {
    const q = cannedQuery(name);
    let stmt: Database.Statement;
    try {
      stmt = this.db.prepare(q.sql);
    } catch (e) {
      throw sqlError(e);
    }
    const result = runStatement(stmt, this.bind(q, params));
    return { ...result, text: textColumnsOf(q, result.columns) };
  }

  /** The id of the newest checkpoint, or the given one after checking it exists. */
  checkpointId(id?: number): number {
    const k = this.kysely();
    if (id === undefined) {
      const newest = k.selectFrom('checkpoints').select((eb) => eb.fn.max('id').as('id')).compile();
      const found = this.db.prepare(newest.sql).get(...newest.parameters) as { id: number | null };
      if (found.id === null) throw new CkptdbError('NO_SUCH_CHECKPOINT', `no checkpoints in ${this.path}`, 'capture one first');
      return found.id;
    }
    const exists = k.selectFrom('checkpoints').select('id').where('id', '=', id).compile();
    if (!this.db.prepare(exists.sql).get(...exists.parameters)) throw noSuchCheckpoint(id, this.path);
    return id;
  }

  /** A checkpoint (default: the newest) with its row counts and shared objects per kind. */
  describe(id?: number): CheckpointDetails {
    return checkpointDetails(this.db, this.checkpointId(id))!;
  }

  /** Who talks to whom in a checkpoint (default: the newest): processes and what connects them. */
  graph(id?: number, opts: GraphOptions = {}): CheckpointGraph {
    return buildGraph(this.db, this.checkpointId(id), opts);
  }

  /** A typed query builder on this session's read-only connection. */
  kysely(): Kysely<StoreSchema> {
    return (this.kyselyInstance ??= storeKysely(this.db));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private bind(q: CannedQuery, given: Params): Params {
    const { bound, checkpoints } = bindCanned(q, given);
    for (const c of checkpoints) bound[c.name] = this.checkpointId(c.asked);
    return bound;
  }
}

