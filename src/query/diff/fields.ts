import { CkptdbError } from '../../errors.js';
import { flagsText, modeText, signalsText, stateText } from '../../store/textForms.js';
import { DIFF_KINDS, type DiffKind, type FieldValue } from './types.js';

/**
 * The fields each kind is compared by, in the order of the bits of its `mask` in
 * sql/internal/diff.sql. Identity fields (pid, start time, fd number, start address,
 * kind and key) are the key, not fields.
 *
 * tasks: mm / fdtable / fs / sighand name the owner of the object (see fill_owners);
 *   ns is namespace type -> key; rlimits is resource -> 'soft/hard'.
 * fds: the slot's cloexec, then what its open file is, then shared_with: the other
 *   fds ('pid:fd', or 'pid/tid:fd' in the own fd table of thread tid) pointing at the
 *   same open file, then details: an anonymous file's details (fill_details) by kind.
 * objects: refcount and attrs of every kernel object; the rest only for sockets.
 * maps: pages, for checkpoints that keep memory (CRIU): equal iff every page of the map
 *   has the same content or is left out on both sides; reported as the number of 4 KiB
 *   pages that differ (of a changed map) or are dumped (of an added or removed one).
 * images: the CRIU image kind (NULL without magic), role (modelled, stored, raw, other,
 *   container), size in bytes, protobuf entries, and content: equal iff the sequences
 *   of chunk hashes are; reported as the number of 4 KiB chunks that differ (see
 *   ImageKey in types.ts).
 */
export const FIELDS = {
  tasks: [
    'tgid', 'ppid', 'pgid', 'sid', 'state', 'comm', 'uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid',
    'cmdline', 'exe', 'cwd', 'root', 'sig_pending', 'sig_blocked', 'sig_ignored', 'sig_caught', 'env', 'attrs',
    'mm', 'fdtable', 'fs', 'sighand', 'ns', 'rlimits',
  ],
  fds: ['cloexec', 'type', 'path', 'dev', 'inode', 'pos', 'flags', 'mode', 'deleted', 'attrs', 'shared_with', 'details'],
  maps: ['end', 'perms', 'pgoff', 'dev', 'inode', 'path', 'attrs', 'pages'],
  objects: [
    'refcount', 'attrs', 'family', 'sock_type', 'protocol', 'state', 'local_addr', 'local_port', 'remote_addr',
    'remote_port', 'peer_ino', 'sock_attrs',
  ],
  images: ['kind', 'role', 'size', 'entries', 'content'],
} as const satisfies Record<DiffKind, readonly string[]>;

/** How a stored value becomes a field value. */
type Decoding = 'plain' | 'flag' | 'json' | 'holders';

const DECODING: Partial<Record<string, Decoding>> = {
  cloexec: 'flag',
  deleted: 'flag',
  cmdline: 'json',
  env: 'json',
  attrs: 'json',
  sock_attrs: 'json',
  ns: 'json',
  rlimits: 'json',
  shared_with: 'holders',
  details: 'json',
};

export function decodingOf(field: string): Decoding {
  return DECODING[field] ?? 'plain';
}

/**
 * Fields with a text form (migrations/0009_text_forms.sql): an added or removed entry
 * carries it as FIELD_text beside the value, a change as old_text and new_text.
 */
export const TEXT_FIELDS: Partial<Record<DiffKind, Readonly<Record<string, (v: FieldValue) => string | null>>>> = {
  tasks: { state: stateText, sig_pending: signalsText, sig_blocked: signalsText, sig_ignored: signalsText, sig_caught: signalsText },
  fds: { flags: flagsText, mode: modeText },
};

/** Task fields that are JSON objects whose members are reported one by one ('ns.net'). */
export const GROUPED_FIELDS: readonly string[] = ['ns', 'rlimits'];

/** What to compare: the kinds, and per kind the mask of the fields that count. */
export interface Selection {
  kinds: DiffKind[];
  ignored: string[];
  /** Per kind, the bits of the fields compared. */
  care: Record<DiffKind, number>;
  /** Group entries left out one by one ('ns.net', 'rlimits.core'); the SQL filters them. */
  ignoredEntries: string[];
}

function listOption(value: readonly string[] | string | undefined): string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : [...value];
  return items.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export function selectFields(only: readonly string[] | string | undefined, ignore: readonly string[] | string | undefined): Selection {
  const wanted = listOption(only);
  for (const k of wanted) {
    if (!(DIFF_KINDS as readonly string[]).includes(k)) {
      throw new CkptdbError('BAD_ARGUMENT', `only: no kind '${k}'`, `kinds are ${DIFF_KINDS.join(', ')}`);
    }
  }
  const kinds = DIFF_KINDS.filter((k) => wanted.length === 0 || wanted.includes(k));
  const care = Object.fromEntries(DIFF_KINDS.map((k) => [k, 2 ** FIELDS[k].length - 1])) as Record<DiffKind, number>;
  const ignored = listOption(ignore);
  const ignoredEntries: string[] = [];
  for (const name of ignored) {
    const entry = /^(?:tasks\.)?(ns|rlimits)\.([a-z_]+)$/.exec(name);
    if (entry) {
      ignoredEntries.push(`${entry[1]}.${entry[2]}`);
      continue;
    }
    const m = /^(?:([a-z]+)\.)?([a-z_]+)$/.exec(name);
    const scope = DIFF_KINDS.filter((k) => m && (m[1] === undefined || m[1] === k));
    let known = false;
    for (const k of scope) {
      const bit = (FIELDS[k] as readonly string[]).indexOf(m![2]!);
      if (bit < 0) continue;
      care[k] &= ~(2 ** bit);
      known = true;
    }
    if (!known) {
      throw new CkptdbError('BAD_ARGUMENT', `ignore: no field '${name}'`, 'name a field (pos), a kind and field (fds.pos), or an entry (ns.net, rlimits.nofile)');
    }
  }
  return { kinds, ignored, care, ignoredEntries };
}

/** The fields whose bits are set in mask. */
export function fieldsIn(kind: DiffKind, mask: number): string[] {
  return FIELDS[kind].filter((_f, bit) => (mask & 2 ** bit) !== 0);
}
