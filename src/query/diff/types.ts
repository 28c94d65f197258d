/**
 * The diff of two checkpoints, as the library returns it and as `ckptdb diff --format
 * json` prints it: one document, stable within its `version`.
 *
 * ```json
 * {
 *   "format": "ckptdb-diff", "version": 1,
 *   "a": { "store": "/…/store.sqlite", "checkpoint": 1, "label": "before", "source": "proc", "started_at": "…" },
 *   "b": { … },
 *   "kinds": ["tasks", "fds", "maps", "objects", "images"], "ignored": ["pos"],
 *   "identical": false,
 *   "summary": { "fds": { "added": 1, "removed": 0, "changed": 1 }, … },
 *   "fds": {
 *     "added":   [{ "kind": "fds", "status": "added", "key": { "pid": 10, "start_time": 5000, "fd": 7 },
 *                   "process": { … }, "values": { "cloexec": false, "type": "reg", "path": "/tmp/x", "flags": 32768, "flags_text": "O_RDONLY|O_LARGEFILE", … } }],
 *     "removed": [],
 *     "changed": [{ "kind": "fds", "status": "changed", "key": { "pid": 10, "start_time": 5000, "fd": 3 },
 *                   "process": { … }, "changes": { "pos": { "old": 0, "new": 4096 },
 *                   "flags": { "old": 32769, "new": 33793, "old_text": "O_WRONLY|O_LARGEFILE", "new_text": "O_WRONLY|O_APPEND|O_LARGEFILE" } } },
 *                 { "kind": "fds", "status": "changed",
 *                   "key": { "pid": 10, "start_time": 5000, "thread": { "pid": 12, "start_time": 5100 }, "fd": 3 },
 *                   "process": { … }, "changes": { "cloexec": { "old": true, "new": false } } }]
 *   },
 *   "tasks": { … }, "maps": { … }, "objects": { … },
 *   "images": {
 *     "added": [], "removed": [],
 *     "changed": [{ "kind": "images", "status": "changed", "key": { "name": "pages-1.img" },
 *                   "changes": { "size": { "old": 12288, "new": 16384 }, "content": { "old": null, "new": 2 } } }]
 *   }
 * }
 * ```
 *
 * Every kind compared has `added`, `removed` and `changed`, each in key order; a kind
 * left out with `only` is absent. 64-bit values are exact JSON numbers (never rounded,
 * never quoted); memory addresses are 16-digit hex text, as in the store.
 */
import type { Int64 } from '../../store/writer/types.js';

export const DIFF_KINDS = ['tasks', 'fds', 'maps', 'objects', 'images'] as const;
/**
 * tasks (threads), fds (per process), maps (per process), objects (kernel objects by
 * key), images (the files of a CRIU image directory a checkpoint imported from CRIU keeps).
 */
export type DiffKind = (typeof DIFF_KINDS)[number];

export const DIFF_STATUSES = ['added', 'removed', 'changed'] as const;
export type DiffStatus = (typeof DIFF_STATUSES)[number];

/**
 * A process: its tgid and the start time of its main thread (null when that thread has
 * no row). A main thread that exited while other threads run stays a zombie with its
 * start time, so the process is still matched by it.
 */
export interface ProcessKey {
  pid: number;
  start_time: Int64 | null;
}

/** The process a task, fd or map belongs to, with its name and whether it is new or gone. */
export interface ProcessInfo extends ProcessKey {
  comm: string | null;
  /** added: only in B; removed: only in A; changed: in both, with something of it changed. */
  status: DiffStatus;
}

/** A task (thread): its pid and start time; the same pid with another start time is another task. */
export interface TaskKey {
  pid: number;
  start_time: Int64 | null;
}

/**
 * An fd: its process, the fd table it is in, and its number. Every fd table that a
 * task of the process holds is compared. The process's own table (its main thread's,
 * or while the main thread is an exited zombie, the table of its lowest tid holding
 * one) has no `thread`; any other one, as a thread has after unshare(CLONE_FILES), is
 * named by `thread`: the lowest tid of the process holding it, with its start time.
 */
export interface FdKey extends ProcessKey {
  /** The owner of a table that is not the process's own; absent for the process's own. */
  thread?: TaskKey;
  fd: number;
}

/**
 * A memory map: its process, the address space it is in, and its start address
 * (16-digit hex). The address space is named as an fd table is (see FdKey): threads
 * share their process's, so `thread` is there only for data that has a process with
 * more than one.
 */
export interface MapKey extends ProcessKey {
  thread?: TaskKey;
  start: string;
}

/** A kernel object: its kind (anon, inode, ns, pipe, socket) and its key on the source system. */
export interface ObjectKey {
  kind: string;
  key: string;
}

/**
 * A file of the CRIU image directory (or container checkpoint archive) a checkpoint was
 * imported from, by its name there: `pages-1.img`, `core-42.img`, `checkpoint/…` paths
 * of an archive as stored. Checkpoints not imported from CRIU have none.
 *
 * Its `content` is the number of 4 KiB chunks (pages, in a pages image) that differ
 * from the other side, position by position: a chunk changed, or present on one side
 * only. An added or removed image carries all its chunks; a changed one has
 * `{ "old": null, "new": N }`, N > 0.
 */
export interface ImageKey {
  name: string;
}

export interface KeyOf {
  tasks: TaskKey;
  fds: FdKey;
  maps: MapKey;
  objects: ObjectKey;
  images: ImageKey;
}

/**
 * A field's value: a number (a bigint above 2^53), text, a flag, a list (cmdline, env,
 * shared_with) or an object (attrs, ns, rlimits). The fields of each kind are listed in
 * FIELDS (src/query/diff/fields.ts).
 */
export type FieldValue = string | number | bigint | boolean | null | FieldValue[] | { [name: string]: FieldValue };

export interface FieldChange {
  old: FieldValue;
  new: FieldValue;
  /** For fields with a text form (fds flags and mode; tasks state and signal masks): old and new as text. */
  old_text?: string | null;
  new_text?: string | null;
}

interface EntryBase<K extends DiffKind> {
  kind: K;
  key: KeyOf[K];
  /** For tasks, fds and maps: the process they belong to. */
  process?: ProcessInfo;
}

/**
 * Something only in B (added) or only in A (removed), with all its compared fields.
 * A field with a text form has it beside, as FIELD_text: fds flags_text ('O_RDWR|O_APPEND')
 * and mode_text ('-rw-r--r--'); tasks state_text ('sleeping') and sig_pending_text,
 * sig_blocked_text, sig_ignored_text, sig_caught_text ('SIGINT,SIGTERM'), as in
 * migrations/0009_text_forms.sql.
 */
export interface AddedOrRemoved<K extends DiffKind = DiffKind> extends EntryBase<K> {
  status: 'added' | 'removed';
  values: Record<string, FieldValue>;
}

/** Something in both, with only the fields that differ. */
export interface Changed<K extends DiffKind = DiffKind> extends EntryBase<K> {
  status: 'changed';
  changes: Record<string, FieldChange>;
}

export type DiffEntry<K extends DiffKind = DiffKind> = K extends DiffKind ? AddedOrRemoved<K> | Changed<K> : never;

export interface DiffCounts {
  added: number;
  removed: number;
  changed: number;
}

/** One side of the diff. */
export interface CheckpointRef {
  store: string;
  checkpoint: number;
  label: string | null;
  source: string;
  started_at: string;
}

export interface KindChanges<K extends DiffKind> {
  added: AddedOrRemoved<K>[];
  removed: AddedOrRemoved<K>[];
  changed: Changed<K>[];
}

export interface DiffDocument {
  format: 'ckptdb-diff';
  version: 1;
  a: CheckpointRef;
  b: CheckpointRef;
  /** The kinds compared. */
  kinds: DiffKind[];
  /** The fields left out of the comparison, as given. */
  ignored: string[];
  identical: boolean;
  summary: Partial<Record<DiffKind, DiffCounts>>;
  tasks?: KindChanges<'tasks'>;
  fds?: KindChanges<'fds'>;
  maps?: KindChanges<'maps'>;
  objects?: KindChanges<'objects'>;
  images?: KindChanges<'images'>;
}

export interface DiffOptions {
  /** The store file holding checkpoint B; default: the store of A. Opened read-only. */
  storeB?: string;
  /** The kinds to compare (a list, or comma-separated); default: all. */
  only?: readonly string[] | string;
  /**
   * Fields to leave out (a list, or comma-separated): `pos` in every kind that has it,
   * `fds.pos` in one kind, `ns.net` / `rlimits.nofile` for one namespace or limit.
   */
  ignore?: readonly string[] | string;
  /**
   * Threads computing the diff: 1, or 2 (a worker thread takes the kernel objects and
   * the added fds). Default: 2 from 200,000 fds in checkpoint A on, else 1.
   */
  threads?: 1 | 2;
}
