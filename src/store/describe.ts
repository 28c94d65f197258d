import type Database from 'better-sqlite3';
import type { Selectable } from 'kysely';
import type { CheckpointsTable } from './schema.js';
import { statement } from './sqlFile.js';
import { stateText } from './textForms.js';

/** A checkpoint's row as stored. */
export type CheckpointRow = Selectable<CheckpointsTable>;

/** A checkpoint with its row counts and shared objects per kind. */
export interface CheckpointDetails extends CheckpointRow {
  counts: Record<string, number>;
  objects: { kind: string; n: number; refs: number; shared: number }[];
  /** Tasks per state, most first: the letter as stored, its word, and how many. */
  states: { state: string | null; state_text: string | null; tasks: number }[];
}

/**
 * The details of checkpoint id, or undefined when there is none; on any connection
 * to a store, the store's own or a read-only one.
 */
export function checkpointDetails(db: Database.Database, id: number): CheckpointDetails | undefined {
  const row = db.prepare(statement('internal/store.sql', 'get_checkpoint')).get({ id }) as CheckpointRow | undefined;
  if (!row) return undefined;
  const counts: Record<string, number> = {};
  for (const r of db.prepare(statement('internal/store.sql', 'count_rows')).all({ id }) as { kind: string; n: number }[]) {
    counts[r.kind] = r.n;
  }
  const objects = db.prepare(statement('internal/store.sql', 'count_objects_by_kind')).all({ id }) as CheckpointDetails['objects'];
  const states = (db.prepare(statement('internal/store.sql', 'count_states')).all({ id }) as { state: string | null; tasks: number }[])
    .map((s) => ({ state: s.state, state_text: stateText(s.state), tasks: s.tasks }));
  return { ...row, counts, objects, states };
}
