import type { CheckpointDiff } from './engine.js';
import type { AddedOrRemoved, CheckpointRef, DiffEntry, DiffKind, FieldValue, ProcessInfo, TaskKey } from './types.js';

/**
 * The diff as a person reviews it, line by line: the two checkpoints, a summary line
 * per kind, then the changes grouped by process (`+` added, `-` removed, `~` changed,
 * each changed field as `old → new`; an fd or map of a table that is not the
 * process's own names its thread: `fd 3 (thread 1234)`), then the kernel objects,
 * then the files of a CRIU import whose bytes or facts differ. The
 * maps of a process that is new or gone, hundreds for a real program, are counted in
 * one line; the JSON document lists them.
 */
export function* diffText(diff: CheckpointDiff): Generator<string> {
  yield `--- ${describe(diff.a, null)}\n`;
  yield `+++ ${describe(diff.b, diff.a.store)}\n`;
  if (diff.ignored.length) yield `ignoring ${diff.ignored.join(', ')}\n`;
  for (const kind of diff.kinds) {
    const c = diff.summary[kind]!;
    if (kind === 'images' && !keepsImages(diff)) continue;
    yield `${kind.padEnd(8)} ${c.added} added, ${c.removed} removed, ${c.changed} changed\n`;
  }
  if (diff.identical) {
    yield `identical\n`;
    return;
  }
  let process: ProcessInfo | undefined;
  const headed = new Set<DiffKind>();
  let maps = 0;
  const counted = function* () {
    if (maps) yield `  ${MARK[process!.status]}${maps} map${maps === 1 ? '' : 's'}\n`;
    maps = 0;
  };
  for (const e of diff.changes()) {
    if (e.process !== process) {
      yield* counted();
      process = e.process;
      if (process) yield `\n${processLine(process)}\n`;
    }
    const heading = HEADINGS[e.kind];
    if (heading && !headed.has(e.kind)) {
      headed.add(e.kind);
      yield `\n${heading}\n`;
    }
    if (e.kind === 'maps' && process!.status !== 'changed') maps++;
    else yield `  ${entryLine(e)}\n`;
  }
  yield* counted();
}

/**
 * Whether either side can hold CRIU image files: a CRIU import, or a change in images.
 * Between two live captures the images line would always read 0, 0, 0.
 */
function keepsImages(diff: CheckpointDiff): boolean {
  const c = diff.summary.images!;
  return diff.a.source === 'criu' || diff.b.source === 'criu' || c.added + c.removed + c.changed > 0;
}

function describe(ref: CheckpointRef, otherStore: string | null): string {
  const label = ref.label === null ? '' : ` ${JSON.stringify(ref.label)}`;
  const store = otherStore !== null && ref.store !== otherStore ? ` in ${ref.store}` : '';
  return `checkpoint ${ref.checkpoint}${label} (${ref.source}, ${ref.started_at})${store}`;
}

const MARK = { added: '+ ', removed: '- ', changed: '' } as const;

/** The kinds that belong to no process, under a heading of their own. */
const HEADINGS: Partial<Record<DiffKind, string>> = { objects: 'kernel objects', images: 'CRIU images' };

function processLine(p: ProcessInfo): string {
  const comm = p.comm === null ? '' : ` ${p.comm}`;
  const start = p.start_time === null ? '' : `, start_time ${p.start_time}`;
  return `${MARK[p.status]}process ${p.pid}${comm}${start}`;
}

function entryLine(e: DiffEntry): string {
  const name = entryName(e);
  if (e.status === 'changed') {
    const changes = Object.entries(e.changes);
    // What happened to an image's bytes first: `12 chunks differ; size 8192 → 12288`.
    const counted = (f: string) => f === 'content' || f === 'pages';
    const ordered = [...changes.filter(([f]) => counted(f)), ...changes.filter(([f]) => !counted(f))];
    const fields = ordered.map(([f, c]) =>
      f === 'content' ? chunks(c.new) : f === 'pages' ? pages(c.new) : `${f} ${textOf(f, c.old_text, c.old)} → ${textOf(f, c.new_text, c.new)}`,
    );
    return `~ ${name}: ${fields.join('; ')}`;
  }
  return `${MARK[e.status]}${name}${describeValues(e.kind, e.values, name.startsWith('thread'))}`;
}

/** What the change is to; an fd or map of a thread's own table says whose: `fd 3 (thread 1234)`. */
function entryName(e: DiffEntry): string {
  switch (e.kind) {
    case 'tasks':
      return `${e.process && e.key.pid !== e.process.pid ? 'thread' : 'task'} ${e.key.pid}`;
    case 'fds':
      return `fd ${e.key.fd}${ownerOf(e.key.thread)}`;
    case 'maps': {
      const end = e.status === 'changed' || !present(e.values.end) ? '' : `-${show('end', e.values.end)}`;
      return `map ${e.key.start}${end}${ownerOf(e.key.thread)}`;
    }
    case 'objects':
      return `${e.key.kind} ${e.key.key}`;
    case 'images':
      return `image ${e.key.name}`;
  }
}

/** An image's content change: how many of its 4 KiB chunks differ. */
function chunks(n: FieldValue): string {
  return `${show('content', n)} chunk${n === 1 ? '' : 's'} differ${n === 1 ? 's' : ''}`;
}

/** A map's memory change: how many of its 4 KiB pages differ. */
function pages(n: FieldValue): string {
  return `${show('pages', n)} page${n === 1 ? '' : 's'} differ${n === 1 ? 's' : ''}`;
}

function ownerOf(thread: TaskKey | undefined): string {
  return thread ? ` (thread ${thread.pid})` : '';
}

/** A few of its values say what was added or removed; the JSON document has them all. */
function describeValues(kind: DiffKind, v: AddedOrRemoved['values'], thread: boolean): string {
  // A flag is named when set and left out when not.
  const some = (fields: readonly string[]) => {
    const parts = fields.filter((f) => present(v[f]) && v[f] !== false).map((f) => (v[f] === true ? f : `${f} ${shownValue(v, f)}`));
    return parts.length ? ` (${parts.join(', ')})` : '';
  };
  const head = (fields: readonly string[]) => fields.filter((f) => present(v[f])).map((f) => ` ${shownValue(v, f)}`).join('');
  switch (kind) {
    case 'tasks':
      // A thread's command line and parent are its process's: not repeated.
      return head(['comm']) + some(thread ? ['state'] : ['state', 'ppid', 'cmdline']);
    case 'fds':
      return `:${head(['type', 'path'])}${some(['pos', 'flags', 'deleted', 'cloexec', 'shared_with'])}`;
    case 'maps':
      return `${head(['perms', 'path'])}${some(v.pgoff ? ['pgoff', 'pages'] : ['pages'])}`;
    case 'objects':
      return some(['refcount', 'family', 'sock_type', 'state', 'local_addr', 'remote_addr']);
    case 'images':
      return some(['kind', 'role', 'size', 'entries']);
  }
}

function present(v: FieldValue | undefined): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

/** Lists longer than this are cut in text: `a, b, c and 5 more`. */
const LIST_SHOWN = 3;

/** A field of an added or removed entry: its text form where it has one (flags as O_* names, states as words). */
function shownValue(v: AddedOrRemoved['values'], field: string): string {
  const text = v[`${field}_text`];
  return textOf(field, typeof text === 'string' ? text : undefined, v[field]);
}

/** A value by its text form where it has one; an empty signal mask names no signal: (none). */
function textOf(field: string, text: string | null | undefined, value: FieldValue | undefined): string {
  if (text === undefined || text === null) return show(field, value);
  return text === '' ? '(none)' : text;
}

/** A value as text: yes/no, lists joined, nothing as (none). */
function show(field: string, v: FieldValue | undefined): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) {
    if (v.length === 0) return '(none)';
    if (field !== 'shared_with') return v.map(String).join(' ');
    const cut = v.length > LIST_SHOWN + 1 ? ` and ${v.length - LIST_SHOWN} more` : '';
    return v.slice(0, cut ? LIST_SHOWN : v.length).map(String).join(', ') + cut;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  if (v === '') return '""';
  return String(v);
}
