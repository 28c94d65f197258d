import { once } from 'node:events';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { CkptdbError } from '../../errors.js';
import type { CheckpointRow } from '../describe.js';
import { noSuchCheckpoint } from '../store.js';
import { statement } from '../sqlFile.js';
import { ChunkReader } from '../chunks.js';
import { connect, disconnect, postgresError, queryOrLost } from './connection.js';
import { redactUrl } from './location.js';
import { migratePostgres } from './migrate.js';
import { copyLine } from './copyText.js';
import { withValues } from './statement.js';
import { CHECKPOINT_TABLES, PAGES_IMAGE, postgresColumns } from './tables.js';

const SQL = 'internal/push.sql';

export interface PushOptions {
  /** Local checkpoint ids; default: every checkpoint the database does not hold yet. */
  ids?: number[];
  /** Also copy CRIU's memory pages (they hold process memory, secrets too). */
  withPages?: boolean;
  /** Called as rows go out: rows copied so far of the checkpoint being pushed, of its total. */
  onProgress?: (p: PushProgress) => void;
}

export interface PushProgress {
  checkpoint: number;
  done: number;
  total: number;
}

export interface PushedCheckpoint {
  /** Its id in the local store. */
  local: number;
  /** Its id in PostgreSQL. */
  remote: number;
  uuid: string;
  /** pushed now, or already there (pushed before: nothing was copied). */
  status: 'pushed' | 'present';
  rows: number;
  /** CRIU chunks sent (chunks PostgreSQL already held are not sent again), and their bytes. */
  chunks: number;
  chunkBytes: number;
  /** CRIU memory pages left on this host (pushed without withPages). */
  pagesKept: number;
}

/**
 * Copies checkpoints of a local store into a PostgreSQL store, creating or upgrading
 * its schema first. Each checkpoint goes in one transaction, its rows by COPY: a
 * reader sees all of it or none of it, and a push that dies leaves nothing behind.
 * A checkpoint is known by its uuid: one PostgreSQL holds already is not copied again.
 */
export async function pushCheckpoints(db: Database.Database, url: string, opts: PushOptions = {}): Promise<PushedCheckpoint[]> {
  const where = redactUrl(url);
  const all = db.prepare(statement(SQL, 'local_checkpoints')).all() as CheckpointRow[];
  const chosen = opts.ids
    ? opts.ids.map((id) => all.find((c) => c.id === id) ?? throwMissing(id, db.name))
    : all;
  const client = await connect(url);
  try {
    await migratePostgres(client, where);
    const present = new Map<string, number>();
    const uuids = chosen.map((c) => c.uuid);
    for (const r of (await client.query<{ uuid: string; id: number }>('SELECT uuid::text AS uuid, id FROM checkpoints WHERE uuid = ANY($1::uuid[])', [uuids])).rows) {
      present.set(r.uuid, r.id);
    }
    const columns = new Map<string, string[]>();
    for (const table of CHECKPOINT_TABLES) columns.set(table, (await postgresColumns(client, table)).filter((c) => c !== 'checkpoint_id'));
    const results: PushedCheckpoint[] = [];
    for (const c of chosen) {
      const remote = present.get(c.uuid);
      if (remote !== undefined) {
        if (opts.ids) results.push({ local: c.id, remote, uuid: c.uuid, status: 'present', rows: 0, chunks: 0, chunkBytes: 0, pagesKept: 0 });
        continue;
      }
      results.push(await pushOne(db, client, c, columns, opts));
    }
    if (results.some((r) => r.status === 'pushed')) {
      // New rows have no statistics until autovacuum comes by: a query or diff planned
      // before then takes a checkpoint of a million rows for a few. A role that does not
      // own the tables is only warned, and the next autovacuum does it.
      await client.query(`ANALYZE ${[...CHECKPOINT_TABLES, 'criu_image_chunks', 'checkpoints'].join(', ')}`);
    }
    return results;
  } catch (e) {
    throw postgresError(e, url);
  } finally {
    await disconnect(client);
  }
}

function throwMissing(id: number, path: string): never {
  throw noSuchCheckpoint(id, path);
}

async function pushOne(db: Database.Database, client: pg.Client, c: CheckpointRow, columns: Map<string, string[]>, opts: PushOptions): Promise<PushedCheckpoint> {
  // one read transaction: the rows of every table come from one state of the store
  db.exec('BEGIN');
  try {
    await client.query('BEGIN');
    try {
      const inserted = await client.query<{ id: number }>(
        `INSERT INTO checkpoints (label, source, host, kernel, root_pid, frozen, started_at, finished_at, meta, uuid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (uuid) DO NOTHING RETURNING id`,
        [c.label, c.source, c.host, c.kernel, c.root_pid, c.frozen, c.started_at, c.finished_at, c.meta, c.uuid],
      );
      if (inserted.rows.length === 0) {
        // another push of it committed since we looked
        await client.query('ROLLBACK');
        const r = await client.query<{ id: number }>('SELECT id FROM checkpoints WHERE uuid = $1', [c.uuid]);
        return { local: c.id, remote: r.rows[0]!.id, uuid: c.uuid, status: 'present', rows: 0, chunks: 0, chunkBytes: 0, pagesKept: 0 };
      }
      const remote = inserted.rows[0]!.id;
      const total = db.prepare(statement(SQL, 'count_rows')).pluck().get({ id: c.id }) as number;
      let done = 0;
      const progress = (n: number) => {
        done += n;
        opts.onProgress?.({ checkpoint: c.id, done, total });
      };
      for (const table of CHECKPOINT_TABLES) {
        const cols = columns.get(table)!;
        const rows = db.prepare(`SELECT ${cols.join(', ')} FROM ${table} WHERE checkpoint_id = ?`).raw(true).safeIntegers(true).iterate(c.id) as IterableIterator<unknown[]>;
        await copyRows(client, table, ['checkpoint_id', ...cols], withFirst(remote, rows), progress);
      }
      const chunks = await pushChunks(db, client, c.id, !!opts.withPages);
      const imageChunks = db.prepare(statement(SQL, 'image_chunks')).raw(true).safeIntegers(true).iterate({ id: c.id }) as IterableIterator<unknown[]>;
      await copyRows(client, 'criu_image_chunks', ['checkpoint_id', 'image_id', 'seq', 'hash', 'size'], withFirst(remote, imageChunks), progress);
      await checkReferences(client, remote, c.id, db.name);
      await client.query('COMMIT');
      return { local: c.id, remote, uuid: c.uuid, status: 'pushed', rows: done, ...chunks };
    } catch (e) {
      await queryOrLost(client, 'ROLLBACK').catch(() => undefined);
      throw e;
    }
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
}

/** The foreign keys, checked over the whole checkpoint at once (see migrations/0001_init.pg.sql). */
async function checkReferences(client: pg.Client, remote: number, local: number, path: string): Promise<void> {
  const dangling = await client.query<Dangling>(withValues(statement('internal/postgres/references.sql', 'dangling_references'), { id: remote }));
  if (dangling.rows.length) {
    throw new CkptdbError('DANGLING_REFERENCE', `checkpoint ${local} of ${path} does not hold together: ${danglingText(dangling.rows[0]!)}`, '`ckptdb verify` says more; nothing was pushed');
  }
}

export interface Dangling {
  child: string;
  reference: string;
  parent: string;
  checkpoint_id: number;
  value: number;
}

export function danglingText(d: Dangling): string {
  return `${d.child}.${d.reference} of checkpoint ${d.checkpoint_id} refers to ${d.parent} ${d.value}, which is not there`;
}

function* withFirst(first: unknown, rows: Iterable<unknown[]>): Generator<unknown[]> {
  for (const r of rows) {
    r.unshift(first);
    yield r;
  }
}

const BATCH = 256 * 1024;

/** COPY FROM STDIN of rows in text format, written as the server takes them. */
async function copyRows(client: pg.Client, table: string, cols: string[], rows: Iterable<unknown[]>, progress: (n: number) => void): Promise<void> {
  const stream: CopyStreamQuery = client.query(copyFrom(`COPY ${table} (${cols.join(', ')}) FROM STDIN`));
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  finished.catch(() => undefined);
  let text = '';
  let n = 0;
  for (const row of rows) {
    text += copyLine(row);
    n++;
    if (text.length >= BATCH) {
      if (!stream.write(text)) await Promise.race([once(stream, 'drain'), finished]);
      text = '';
      progress(n);
      n = 0;
    }
  }
  stream.end(text);
  await finished;
  progress(n);
}

/**
 * The chunks of the checkpoint's CRIU files that PostgreSQL does not hold yet: asked by
 * hash, sent by COPY into a temporary table and added from there, so that two pushes
 * of one chunk at once store it once. Pages only when asked for.
 */
async function pushChunks(db: Database.Database, client: pg.Client, id: number, withPages: boolean): Promise<{ chunks: number; chunkBytes: number; pagesKept: number }> {
  const wanted = new Map<string, number>();
  let pagesKept = 0;
  const images = db.prepare(statement(SQL, 'images')).all({ id }) as { id: number; name: string }[];
  const chunksOf = db.prepare(statement(SQL, 'chunks_of_image'));
  for (const image of images) {
    if (!withPages && PAGES_IMAGE.test(image.name)) {
      pagesKept++;
      continue;
    }
    for (const r of chunksOf.iterate({ image_id: image.id }) as IterableIterator<{ id: number; hash: Buffer }>) wanted.set(r.hash.toString('hex'), r.id);
  }
  if (wanted.size === 0) return { chunks: 0, chunkBytes: 0, pagesKept };
  const hashes = [...wanted.keys()];
  for (let i = 0; i < hashes.length; i += 5000) {
    const batch = hashes.slice(i, i + 5000).map((h) => Buffer.from(h, 'hex'));
    const held = await client.query<{ hash: Buffer }>('SELECT hash FROM criu_chunks WHERE hash = ANY($1::bytea[])', [batch]);
    for (const r of held.rows) wanted.delete(r.hash.toString('hex'));
  }
  if (wanted.size === 0) return { chunks: 0, chunkBytes: 0, pagesKept };
  await client.query('CREATE TEMP TABLE ckptdb_push_chunks (hash bytea, data bytea) ON COMMIT DROP');
  // in the order the images hold them, which is mostly the order of their packs: each pack is decoded about once
  const reader = new ChunkReader(db);
  let bytes = 0;
  function* rows(): Generator<unknown[]> {
    for (const [hash, chunkId] of wanted) {
      const d = reader.chunk(chunkId);
      bytes += d.length;
      yield [Buffer.from(hash, 'hex'), d];
    }
  }
  await copyRows(client, 'ckptdb_push_chunks', ['hash', 'data'], rows(), () => undefined);
  await client.query('INSERT INTO criu_chunks (hash, data) SELECT hash, data FROM ckptdb_push_chunks ON CONFLICT (hash) DO NOTHING');
  return { chunks: wanted.size, chunkBytes: bytes, pagesKept };
}
