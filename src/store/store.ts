import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { CheckpointWriter } from './writer/writer.js';
import type { CheckpointMeta, WriterOptions } from './writer/types.js';
import { checkpointDetails, type CheckpointDetails, type CheckpointRow } from './describe.js';
import { namedStatements, statement } from './sqlFile.js';
import { asStoreError, openDatabase, type OpenOptions } from './open.js';
import { verifyStore, type VerifyFinding } from './verify.js';
import { chunkGarbage } from './chunks.js';

export interface CheckpointSummary {
  id: number;
  label: string | null;
  source: string;
  host: string | null;
  root_pid: number | null;
  frozen: number;
  started_at: string;
  finished_at: string;
  tasks: number;
  fds: number;
}

export type { CheckpointRow, CheckpointDetails };

/** An open store: one SQLite file holding many checkpoints. */
export class Store {
  private writer: CheckpointWriter | null = null;

  constructor(readonly db: Database.Database, readonly path: string) {}

  /** Starts a checkpoint; what the writer adds is invisible to everyone until done(). */
  beginCheckpoint(meta: CheckpointMeta, opts?: WriterOptions): CheckpointWriter {
    if (this.writer?.isOpen) throw new CkptdbError('STORE_BUSY', `checkpoint ${this.writer.checkpointId} is still being written on this store`);
    try {
      this.writer = new CheckpointWriter(this.db, meta, opts);
    } catch (e) {
      if (e instanceof CkptdbError) throw e;
      throw asStoreError(e, this.path);
    }
    return this.writer;
  }

  /** The checkpoints, oldest first; of one host when given. */
  listCheckpoints(host?: string): CheckpointSummary[] {
    return this.db.prepare(statement('internal/store.sql', 'list_checkpoints')).all({ host: host ?? null }) as CheckpointSummary[];
  }

  getCheckpoint(id: number): CheckpointRow {
    const row = this.db.prepare(statement('internal/store.sql', 'get_checkpoint')).get({ id: checkId(id) }) as CheckpointRow | undefined;
    if (!row) throw noSuchCheckpoint(id, this.path);
    return row;
  }

  /** The checkpoint with its row counts and shared objects per kind. */
  describeCheckpoint(id: number): CheckpointDetails {
    const details = checkpointDetails(this.db, checkId(id));
    if (!details) throw noSuchCheckpoint(id, this.path);
    return details;
  }

  /**
   * Removes a checkpoint and every row of it, all or nothing. Foreign keys are not
   * checked meanwhile: the indexes lead with checkpoint_id, so a check per deleted row
   * would scan the tables that refer to it; every row of the checkpoint goes, so none
   * is left referring to a deleted one.
   */
  deleteCheckpoint(id: number): void {
    this.getCheckpoint(id);
    const statements = namedStatements('internal/store.sql').get('delete_checkpoint')!.map((sql) => this.db.prepare(sql));
    const foreignKeys = this.db.pragma('foreign_keys', { simple: true }) === 1;
    // PRAGMA foreign_keys does nothing inside a transaction: set it before
    if (foreignKeys) this.db.pragma('foreign_keys = OFF');
    try {
      this.db.transaction(() => {
        const sweepChunks = chunkGarbage(this.db, id);
        for (const s of statements) s.run({ id });
        sweepChunks();
      }).immediate();
    } finally {
      if (foreignKeys) this.db.pragma('foreign_keys = ON');
    }
  }

  /** Integrity, foreign keys and refcounts; an empty list means the store is sound. */
  verify(id?: number): VerifyFinding[] {
    if (id !== undefined) this.getCheckpoint(id);
    return verifyStore(this.db, id);
  }

  close(): void {
    this.writer?.abort();
    if (this.db.open) this.db.close();
  }
}

export function openStore(path: string, opts?: OpenOptions): Store {
  return new Store(openDatabase(path, opts), path);
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) throw new CkptdbError('BAD_ARGUMENT', `checkpoint id ${String(id)} is not a positive integer`);
  return id;
}

export function noSuchCheckpoint(id: number, path: string): CkptdbError {
  return new CkptdbError('NO_SUCH_CHECKPOINT', `no checkpoint ${id} in ${path}`, '`ckptdb list` shows the checkpoints there are');
}
