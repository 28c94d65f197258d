import type Database from 'better-sqlite3';
import type pg from 'pg';
import { CkptdbError } from '../../errors.js';
import { statement } from '../sqlFile.js';
import { ChunkWriter } from '../chunks.js';
import { connect, disconnect, postgresError } from './connection.js';
import { openRows } from './cursor.js';
import { redactUrl } from './location.js';
import { checkPostgresSchema } from './migrate.js';
import { CHECKPOINT_TABLES, ID_SPACES, idSpaceOf, postgresColumns, type IdSpace } from './tables.js';

const SQL = 'internal/pull.sql';

export interface PulledCheckpoint {
  /** Its id in PostgreSQL. */
  remote: number;
  /** Its id in the local store. */
  local: number;
  uuid: string;
  /** pulled now, or present: the local store held it already. */
  status: 'pulled' | 'present';
  rows: number;
}

/**
 * Copies one checkpoint of a PostgreSQL store into a local SQLite store, in one
 * transaction on each side: a consistent snapshot of PostgreSQL, and all or nothing in
 * SQLite. Rows get ids of the local store (their ids in PostgreSQL are local to the
 * checkpoint); CRIU's chunks are found by hash, so chunks the store holds are shared.
 * A checkpoint whose memory pages stayed on their host is refused: it could not be
 * exported or restored.
 */
export interface PullOptions {
  /**
   * Keep the ids the checkpoint and its rows have in PostgreSQL: for a new, empty store
   * only (a scratch store that export or diff reads), where they cannot collide.
   */
  sameIds?: boolean;
  /**
   * For a scratch store that diff reads, which compares CRIU's chunks by hash: a chunk
   * PostgreSQL lacks (memory pages kept on their host) is stored as its hash with no
   * bytes, instead of refusing the checkpoint. Never for a store anything is exported from.
   */
  hashesOnly?: boolean;
}

export async function pullCheckpoint(db: Database.Database, url: string, remoteId: number, opts: PullOptions = {}): Promise<PulledCheckpoint> {
  const where = redactUrl(url);
  const client = await connect(url);
  try {
    await checkPostgresSchema(client, where);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const found = await client.query('SELECT id, uuid::text AS uuid, label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta FROM checkpoints WHERE id = $1', [remoteId]);
    const c = found.rows[0] as { uuid: string } & Record<string, unknown> | undefined;
    if (!c) throw new CkptdbError('NO_SUCH_CHECKPOINT', `no checkpoint ${remoteId} in ${where}`, '`ckptdb --db URL list` shows the checkpoints there are');
    const held = db.prepare(statement(SQL, 'local_by_uuid')).pluck().get({ uuid: c.uuid }) as number | undefined;
    if (held !== undefined) return { remote: remoteId, local: held, uuid: c.uuid, status: 'present', rows: 0 };
    const missing = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM criu_image_chunks ic WHERE ic.checkpoint_id = $1 AND NOT EXISTS (SELECT 1 FROM criu_chunks k WHERE k.hash = ic.hash)',
      [remoteId],
    );
    if (missing.rows[0]!.n > 0 && !opts.hashesOnly) {
      throw new CkptdbError('UNSUPPORTED', `checkpoint ${remoteId} in ${where} lacks ${missing.rows[0]!.n} chunks of its CRIU files: its memory pages stayed on its host`, 'push it again from there with --with-pages');
    }
    return await copyIn(db, client, remoteId, c, opts);
  } catch (e) {
    throw postgresError(e, url);
  } finally {
    await disconnect(client);
  }
}

async function copyIn(db: Database.Database, client: pg.Client, remoteId: number, c: { uuid: string } & Record<string, unknown>, opts: PullOptions): Promise<PulledCheckpoint> {
  db.exec('BEGIN IMMEDIATE');
  try {
    const { id: _remote, ...row } = c;
    const info = db.prepare(statement(SQL, 'insert_checkpoint')).run({ ...row, id: opts.sameIds ? remoteId : null });
    const local = Number(info.lastInsertRowid);
    const offsets = opts.sameIds ? noOffsets() : await idOffsets(db, client, remoteId);
    let rows = 0;
    for (const table of CHECKPOINT_TABLES) {
      const cols = (await postgresColumns(client, table)).filter((n) => n !== 'checkpoint_id');
      const spaces = cols.map((col) => idSpaceOf(table, col));
      const insert = db.prepare(`INSERT INTO ${table} (checkpoint_id, ${cols.join(', ')}) VALUES (?${', ?'.repeat(cols.length)})`);
      const stream = await openRows(client, `SELECT ${cols.join(', ')} FROM ${table} WHERE checkpoint_id = $1`, [remoteId]);
      for await (const r of stream.rows) {
        for (let i = 0; i < r.length; i++) {
          const space = spaces[i];
          if (space !== undefined && r[i] !== null) r[i] = BigInt(r[i] as number | bigint) + offsets[space];
        }
        insert.run(local, ...r);
        rows++;
      }
    }
    if (opts.hashesOnly) {
      const addHash = db.prepare(statement(SQL, 'insert_chunk_hash'));
      for await (const [hash, size] of (await openRows(client, statement(SQL, 'remote_chunk_hashes'), [remoteId])).rows) addHash.run(hash, size);
    } else {
      // into packs of this store, as an import writes them: the chunks it holds already are shared
      const writer = new ChunkWriter(db, local);
      for await (const [, data] of (await openRows(client, statement(SQL, 'remote_chunks'), [remoteId])).rows) writer.chunk(data as Buffer);
      writer.flushSync();
    }
    const addImageChunk = db.prepare(statement(SQL, 'insert_image_chunk'));
    for await (const [image, seq, hash] of (await openRows(client, statement(SQL, 'remote_image_chunks'), [remoteId])).rows) {
      addImageChunk.run(BigInt(image as number) + offsets.image, seq, hash);
      rows++;
    }
    db.exec('COMMIT');
    return { remote: remoteId, local, uuid: c.uuid, status: 'pulled', rows };
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

function noOffsets(): Record<IdSpace, bigint> {
  return Object.fromEntries(Object.keys(ID_SPACES).map((s) => [s, 0n])) as Record<IdSpace, bigint>;
}

/** Per id space, what to add to an id in PostgreSQL to make it new in the local store. */
async function idOffsets(db: Database.Database, client: pg.Client, remoteId: number): Promise<Record<IdSpace, bigint>> {
  const offsets = {} as Record<IdSpace, bigint>;
  for (const space of Object.keys(ID_SPACES) as IdSpace[]) {
    const table = ID_SPACES[space].table;
    const localMax = BigInt(db.prepare(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get() as number);
    const r = await client.query<{ min: number | bigint | null }>(`SELECT min(id) AS min FROM ${table} WHERE checkpoint_id = $1`, [remoteId]);
    offsets[space] = localMax + 1n - BigInt(r.rows[0]!.min ?? 0);
  }
  return offsets;
}
