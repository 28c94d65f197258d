import { decodingOf, fieldsIn, GROUPED_FIELDS, TEXT_FIELDS } from './fields.js';
import type { DiffEntry, DiffKind, DiffStatus, FieldChange, FieldValue, KeyOf, ProcessInfo, ProcessKey, TaskKey } from './types.js';

/** A row of one of the read_* statements, read with safe integers: every integer is a bigint. */
export type DiffRow = Record<string, unknown>;

const MIN_EXACT = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint that a JS number holds exactly becomes that number; larger ones stay bigints. */
export function exact(v: unknown): unknown {
  if (typeof v === 'bigint' && v >= MIN_EXACT && v <= MAX_EXACT) return Number(v);
  return v;
}

function taskKey(pid: unknown, startTime: unknown): TaskKey {
  return { pid: Number(pid), start_time: exact(startTime) as TaskKey['start_time'] };
}

/** The process, and the owner of the fd table or address space when it is a thread (read_fds, read_maps). */
function tableKey(row: DiffRow): ProcessKey & { thread?: TaskKey } {
  const process = taskKey(row.pid, row.start_time);
  return row.thread === null ? process : { ...process, thread: taskKey(row.thread, row.thread_start) };
}

function keyOf<K extends DiffKind>(kind: K, row: DiffRow): KeyOf[K] {
  switch (kind) {
    case 'tasks':
      return taskKey(row.pid, row.start_time) as KeyOf[K];
    case 'fds':
      return { ...tableKey(row), fd: Number(row.fd) } as KeyOf[K];
    case 'maps':
      return { ...tableKey(row), start: row.start as string } as KeyOf[K];
    case 'objects':
      return { kind: row.kind as string, key: row.key as string } as KeyOf[K];
    case 'images':
      return { name: row.name as string } as KeyOf[K];
  }
}

/** How shared_with names an fd: 'pid:fd', or 'pid/tid:fd' in the fd table of thread tid (fill_shares). */
function holderName(row: DiffRow): string {
  return `${row.pid}${row.thread === null ? '' : `/${row.thread}`}:${row.fd}`;
}

/** The stored value of a field as the diff reports it; `self` is left out of shared_with. */
function decode(field: string, value: unknown, self: string | undefined): FieldValue {
  switch (decodingOf(field)) {
    case 'flag':
      return value === null ? null : Number(value) !== 0;
    case 'json':
      return value === null ? null : (JSON.parse(value as string) as FieldValue);
    case 'holders':
      return value === null ? [] : (value as string).split(',').filter((h) => h !== self);
    case 'plain':
      return exact(value) as FieldValue;
  }
}

/**
 * Turns a difference row into an entry. Added and removed entries carry every compared
 * field of the side they exist on; changed entries the fields whose bits are set,
 * grouped fields (ns, rlimits) member by member.
 */
export function toEntry(kind: DiffKind, row: DiffRow, care: number, process: ProcessInfo | undefined): DiffEntry {
  const key = keyOf(kind, row);
  const self = kind === 'fds' ? holderName(row) : undefined;
  const status = row.status as DiffStatus;
  const base = process ? { kind, status, key, process } : { kind, status, key };
  const text = TEXT_FIELDS[kind] ?? {};
  if (status !== 'changed') {
    const side = status === 'added' ? 'b' : 'a';
    const values: Record<string, FieldValue> = {};
    for (const f of fieldsIn(kind, care)) {
      // only checkpoints that keep memory (CRIU) count the pages of a map
      if (f === 'pages' && row[`${side}_${f}`] === null) continue;
      values[f] = decode(f, row[`${side}_${f}`], self);
      if (text[f]) values[`${f}_text`] = text[f](values[f]);
    }
    return { ...base, values } as DiffEntry;
  }
  const changes: Record<string, FieldChange> = {};
  for (const f of fieldsIn(kind, Number(row.mask) & care)) {
    const old = decode(f, row[`a_${f}`], self);
    const now = decode(f, row[`b_${f}`], self);
    if (GROUPED_FIELDS.includes(f)) Object.assign(changes, memberChanges(f, old, now));
    else changes[f] = text[f] ? { old, new: now, old_text: text[f](old), new_text: text[f](now) } : { old, new: now };
  }
  return { ...base, changes } as DiffEntry;
}

function memberChanges(field: string, old: FieldValue, now: FieldValue): Record<string, FieldChange> {
  const a = (old ?? {}) as Record<string, FieldValue>;
  const b = (now ?? {}) as Record<string, FieldValue>;
  const changes: Record<string, FieldChange> = {};
  for (const m of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (a[m] !== b[m]) changes[`${field}.${m}`] = { old: a[m] ?? null, new: b[m] ?? null };
  }
  return changes;
}
