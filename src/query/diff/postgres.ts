import type pg from 'pg';
import { CkptdbError } from '../../errors.js';
import { namedStatements, statement } from '../../store/sqlFile.js';
import { noSuchCheckpoint } from '../../store/store.js';
import { connect, disconnect, postgresError, queryOrLost } from '../../store/postgres/connection.js';
import { redactUrl } from '../../store/postgres/location.js';
import { checkPostgresSchema } from '../../store/postgres/migrate.js';
import { withValues, type SqlValue } from '../../store/postgres/statement.js';
import { passesFor, STATEMENTS, type DiffIds, type Pass } from './compute.js';
import { CheckpointDiff, type DiffResults } from './engine.js';
import type { DiffRow } from './entries.js';
import { selectFields, type Selection } from './fields.js';
import type { CheckpointRef, DiffKind, DiffOptions, DiffStatus } from './types.js';

const SQL = 'internal/postgres/diff.sql';

/**
 * The passes' statements here (see diff.sql): the fds in one FULL JOIN of fingerprints, by merge joins,
 * which also keeps the pairs of fds the sharing pass reads; kernel objects in one FULL
 * JOIN, then their sockets.
 */
const PASSES: Record<Pass, readonly string[]> = {
  ...STATEMENTS,
  fds: ['merge_joins', 'fds_compared', 'hash_joins', 'fds_found'],
  fds_added: [],
  objects: ['objects_compared', 'sockets_changed'],
};

/**
 * The diff of two checkpoints of one PostgreSQL store, computed in the server
 * (sql/internal/postgres/diff.sql), in one REPEATABLE READ transaction that is rolled
 * back: both checkpoints are read from one state of the store, and nothing stays of
 * the work tables. Only the differences come back, held in memory, so a diff of two
 * large checkpoints costs memory in what differs, not in what they hold.
 */
export async function openPostgresDiff(url: string, a: number, b: number, opts: Omit<DiffOptions, 'storeB' | 'threads'> = {}): Promise<CheckpointDiff> {
  const selection = selectFields(opts.only, opts.ignore);
  const where = redactUrl(url);
  const client = await connect(url);
  try {
    await checkPostgresSchema(client, where);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    // the set operations over two checkpoints' fds hash in memory rather than spill to disk
    await client.query("SET LOCAL work_mem = '256MB'");
    // JIT compiling takes longer than it saves on these statements, which are mostly hash joins
    await client.query('SET LOCAL jit = off');
    const run = (name: string, params: Record<string, SqlValue> = {}) => client.query(withValues(statement(SQL, name), params));
    const ref = async (id: number, name: string | undefined): Promise<CheckpointRef> => {
      const r = await run('checkpoint_ref', { id });
      if (!r.rows[0]) throw noSuchCheckpoint(id, name ?? where);
      return { store: name ?? where, ...(r.rows[0] as Omit<CheckpointRef, 'store'>) };
    };
    const refA = await ref(a, opts.names?.a);
    const refB = await ref(b, opts.names?.b);
    await compute(client, { a, b }, selection);
    const results = await fetchResults(client, { a, b }, selection);
    await queryOrLost(client, 'ROLLBACK');
    return new CheckpointDiff(results, refA, refB, selection, 1);
  } catch (e) {
    if (e instanceof CkptdbError) throw e;
    throw postgresError(e, url);
  } finally {
    await disconnect(client);
  }
}

/** Each statement of a pass; a statement of several parts (the work tables) part by part. */
async function compute(client: pg.Client, ids: DiffIds, sel: Selection): Promise<void> {
  const sides = { ...ids } as Record<string, SqlValue>;
  const exec = async (name: string, params: Record<string, SqlValue> = sides, text = statement(SQL, name)) => {
    await client.query(withValues(text, params));
  };
  const perSide = async (name: string, params: Record<string, SqlValue>) => {
    for (const [side, other] of [['a', 'b'], ['b', 'a']] as const) {
      await exec(name, params, statement(SQL, name).replaceAll('{side}', side).replaceAll('{other}', other));
    }
  };
  // several statements each, sent at once (their values are written in, so no parameters)
  const all = (name: string) => namedStatements(SQL).get(name)!.join(';\n');
  await client.query(all('create_work_tables'));
  await exec('fill_procs');
  await exec('fill_tables');
  await perSide('fill_owners', sides);
  await perSide('fill_task_facts', { ...sides, ignored: JSON.stringify(sel.ignoredEntries) });
  await client.query('ANALYZE diff_procs, diff_tables, diff_task_facts');
  for (const pass of passesFor(sel)) {
    if (pass === 'sharing') {
      await exec('fill_holders', {});
      await exec('fill_shares', {});
      await exec('fds_sharing_changed');
    }
    if (pass === 'details') await perSide('fill_details', sides);
    for (const name of PASSES[pass]) await exec(name);
    if (pass === 'maps') {
      // the pages of CRIU checkpoints, per map
      await perSide('fill_pages', sides);
      await perSide('fill_page_areas', sides);
      await exec('maps_pages_changed');
      await perSide('maps_pages_of_added_or_removed', sides);
    }
    if (pass === 'fds') {
      // few changed fds are read by id, many by a hash join: the planner needs their number
      await client.query('ANALYZE diff_fds');
      await exec('fds_masks');
    }
  }
  await client.query(withValues(all('drop_ignored'), sel.care as unknown as Record<string, SqlValue>));
}

async function fetchResults(client: pg.Client, ids: DiffIds, sel: Selection): Promise<DiffResults> {
  const rows = async (name: string) => (await client.query(withValues(statement(SQL, name), { ...ids }))).rows as DiffRow[];
  const byKind = new Map<DiffKind, DiffRow[]>();
  for (const kind of sel.kinds) byKind.set(kind, await rows(`read_${kind}`));
  const processes = await rows('changed_processes');
  const counts = (await rows('count_changes')) as unknown as { kind: DiffKind; status: DiffStatus; n: number }[];
  return {
    changedProcesses: () => processes,
    counts: () => counts,
    read: (kind, status) => (byKind.get(kind) ?? []).filter((r) => status === undefined || r.status === status)[Symbol.iterator](),
    close: () => undefined,
  };
}
