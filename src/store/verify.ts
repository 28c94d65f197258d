import type Database from 'better-sqlite3';
import { statement } from './sqlFile.js';

export type VerifyCheck = 'integrity' | 'foreign_key' | 'refcount' | 'cross_checkpoint' | 'file_object';

/** One thing wrong with a store, named well enough to find the row. */
export interface VerifyFinding {
  check: VerifyCheck;
  checkpointId: number | null;
  message: string;
}

export function verifyStore(db: Database.Database, id?: number): VerifyFinding[] {
  const findings: VerifyFinding[] = [];
  for (const row of db.pragma('integrity_check') as { integrity_check: string }[]) {
    if (row.integrity_check !== 'ok') findings.push({ check: 'integrity', checkpointId: null, message: row.integrity_check });
  }
  for (const row of db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[]) {
    findings.push({ check: 'foreign_key', checkpointId: null, message: `${row.table} row ${row.rowid} refers to a missing ${row.parent} row` });
  }
  const param = { id: id ?? null };
  for (const r of db.prepare(statement('internal/store.sql', 'refcount_mismatches')).all(param) as {
    checkpoint_id: number; id: number; kind: string; key: string; refcount: number; counted: number;
  }[]) {
    findings.push({
      check: 'refcount',
      checkpointId: r.checkpoint_id,
      message: `${r.kind} object ${r.id} (${r.key}) has refcount ${r.refcount} but ${r.counted} references`,
    });
  }
  for (const r of db.prepare(statement('internal/store.sql', 'cross_checkpoint_refs')).all(param) as {
    checkpoint_id: number; ref_kind: string; ref_id: number; object_id: number; object_checkpoint: number;
  }[]) {
    findings.push({
      check: 'cross_checkpoint',
      checkpointId: r.checkpoint_id,
      message: `${r.ref_kind} ${r.ref_id} refers to object ${r.object_id} of checkpoint ${r.object_checkpoint}`,
    });
  }
  for (const r of db.prepare(statement('internal/store.sql', 'files_without_object')).all(param) as { checkpoint_id: number; id: number }[]) {
    findings.push({ check: 'file_object', checkpointId: r.checkpoint_id, message: `file ${r.id} is not a shared object of kind file in its checkpoint` });
  }
  return findings;
}
