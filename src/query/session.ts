import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { CkptdbError } from '../errors.js';
import { checkpointDetails, type CheckpointDetails } from '../store/describe.js';
import { noSuchCheckpoint } from '../store/store.js';
import type { StoreSchema } from '../store/schema.js';
import { cannedQuery, NEWEST, type CannedQuery } from './canned.js';
import { openReadOnlyDatabase } from './connection.js';
import { prepareReadOnly, sqlError } from './guard.js';
import { buildGraph } from './graph/build.js';
import type { CheckpointGraph, GraphOptions } from './graph/types.js';
import { storeKysely } from './kysely.js';
import { paramValue, type Params } from './params.js';
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
    const missing = q.text.flatMap((t) => t.args).filter((a) => !result.columns.includes(a));
    if (missing.length) throw new Error(`${q.file}: its -- text: line reads columns the query does not return: ${missing.join(', ')}`);
    return { ...result, text: q.text };
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
    const known = q.params.map((p) => p.name);
    for (const name of Object.keys(given)) {
      if (!known.includes(name)) {
        throw new CkptdbError('BAD_ARGUMENT', `canned query ${q.name} has no parameter '${name}'`, known.length ? `its parameters: ${known.join(', ')}` : 'it takes none');
      }
    }
    const bound: Params = {};
    for (const p of q.params) {
      const value = given[p.name];
      if (p.default === NEWEST) {
        bound[p.name] = this.checkpointId(value === undefined || value === null ? undefined : checkpointArg(value, p.name));
      } else if (value !== undefined) {
        bound[p.name] = value;
      } else if (p.default !== null) {
        bound[p.name] = paramValue(p.default);
      } else if (p.required) {
        throw new CkptdbError('MISSING_PARAMETER', `canned query ${q.name} needs --param ${p.name}=VALUE (${p.description})`);
      } else {
        bound[p.name] = null;
      }
    }
    return bound;
  }
}

function checkpointArg(value: string | number | bigint, name: string): number {
  const n = typeof value === 'string' ? Number.NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new CkptdbError('BAD_ARGUMENT', `--param ${name}=${String(value)}: a checkpoint id is a positive integer`);
  return n;
}
