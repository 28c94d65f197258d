import { statement } from '../sqlFile.js';
import { noSuchCheckpoint } from '../store.js';
import { connect, disconnect, postgresError } from './connection.js';
import { redactUrl } from './location.js';
import { checkPostgresSchema } from './migrate.js';
import { withValues } from './statement.js';
import { danglingText, type Dangling } from './push.js';

/** One thing wrong with a PostgreSQL store. */
export interface PostgresFinding {
  check: 'foreign_key' | 'refcount' | 'file_object' | 'image_size' | 'chunk_hash';
  checkpointId: number | null;
  message: string;
}

/**
 * The checks of `ckptdb verify` that a PostgreSQL store needs: every reference finds
 * its row (the foreign keys, checked here, see migrations/0001_init.pg.sql), every refcount equals
 * the references stored, every file is an object of kind file, every CRIU file's
 * chunks add up to its size, every chunk still holds the bytes its SHA-256 names
 * (computed by the server). A reference cannot leave its checkpoint: every key
 * includes checkpoint_id.
 */
export async function verifyPostgres(url: string, id?: number): Promise<PostgresFinding[]> {
  const client = await connect(url);
  try {
    const where = redactUrl(url);
    await checkPostgresSchema(client, where);
    const q = async <T>(file: string, name: string) => (await client.query(withValues(statement(file, name), { id: id ?? null }))).rows as T[];
    if (id !== undefined && (await client.query(`SELECT 1 FROM checkpoints WHERE id = ${id}`)).rowCount === 0) {
      throw noSuchCheckpoint(id, where);
    }
    const findings: PostgresFinding[] = [];
    for (const r of await q<Dangling>('internal/postgres/references.sql', 'dangling_references')) {
      findings.push({ check: 'foreign_key', checkpointId: r.checkpoint_id, message: danglingText(r) });
    }
    for (const r of await q<{ checkpoint_id: number; id: number; kind: string; key: string; refcount: number; counted: number }>('internal/store.sql', 'refcount_mismatches')) {
      findings.push({ check: 'refcount', checkpointId: r.checkpoint_id, message: `${r.kind} object ${r.id} (${r.key}) has refcount ${r.refcount} but ${r.counted} references` });
    }
    for (const r of await q<{ checkpoint_id: number; id: number }>('internal/store.sql', 'files_without_object')) {
      findings.push({ check: 'file_object', checkpointId: r.checkpoint_id, message: `file ${r.id} is not a shared object of kind file in its checkpoint` });
    }
    for (const r of await q<{ checkpoint_id: number; name: string; size: number; stored: number }>('internal/postgres/criu.sql', 'image_size_mismatches')) {
      findings.push({ check: 'image_size', checkpointId: r.checkpoint_id, message: `image ${r.name} of checkpoint ${r.checkpoint_id} is ${r.size} bytes but its chunks hold ${r.stored}` });
    }
    for (const r of await q<{ hash: Buffer }>('internal/postgres/criu.sql', 'chunk_hash_mismatches')) {
      findings.push({ check: 'chunk_hash', checkpointId: null, message: `chunk ${r.hash.toString('hex')} no longer holds the bytes of its SHA-256` });
    }
    return findings;
  } catch (e) {
    throw postgresError(e, url);
  } finally {
    await disconnect(client);
  }
}
