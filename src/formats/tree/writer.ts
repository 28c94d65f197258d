import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { checkpointRecords } from '../image/exporter.js';
import type { ImageRecord } from '../image/types.js';
import {
  CHECKPOINT_FIELDS, DETAIL_DIRS, CRIU_DIR, CRIU_IMAGE_FIELDS, DONE, FD_FIELDS, FILE_FIELDS, MAP_FIELDS, OBJECT_FIELDS, RLIMIT_FIELDS, SOCKET_FIELDS, TASK_FIELDS,
  TREE_FORMAT, TREE_VERSION, valueText, type TreeField,
} from './layout.js';

export interface TreeExportResult {
  /** The checkpoint-ID directory written. */
  path: string;
  records: number;
}

/**
 * Writes checkpoint ID as the proposal's tree under dir: dir/checkpoint-ID/, then `done`
 * when everything else is there. Files are readable by their owner only. A failure
 * removes what was written, so no tree without `done` is left behind by ckptdb itself.
 */
export function exportTree(store: Store, checkpointId: number, dir: string): TreeExportResult {
  store.getCheckpoint(checkpointId);
  const root = join(dir, `checkpoint-${checkpointId}`);
  if (existsSync(root)) throw new CkptdbError('BAD_ARGUMENT', `${root} already exists`, 'remove it, or export into another directory');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(root, { mode: 0o700 });
  } catch (e) {
    throw new CkptdbError('BAD_ARGUMENT', `cannot create ${root}: ${(e as Error).message}`);
  }
  let records = 0;
  try {
    for (const r of checkpointRecords(store, checkpointId)) {
      writeRecord(root, r);
      records++;
    }
    writeFileSync(join(root, DONE), '', { mode: 0o600 });
    return { path: root, records };
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    if (e instanceof CkptdbError) throw e;
    throw new CkptdbError('BAD_ARGUMENT', `cannot write ${root}: ${(e as Error).message}`, undefined, { cause: e });
  }
}

function writeRecord(root: string, r: ImageRecord): void {
  switch (r.record) {
    case 'checkpoint':
      writeValue(root, 'format', TREE_FORMAT);
      writeValue(root, 'version', String(TREE_VERSION));
      return writeFields(root, r, CHECKPOINT_FIELDS);
    case 'object': {
      const dir = makeDir(root, 'objects', String(r.id));
      writeFields(dir, r, OBJECT_FIELDS);
      if (r.socket) writeFields(makeDir(dir, 'socket'), r.socket, SOCKET_FIELDS);
      // Made even when empty, so the tasks' links to them resolve.
      if (r.kind === 'fdtable') makeDir(dir, 'fds');
      if (r.kind === 'mm') makeDir(dir, 'maps');
      return;
    }
    case 'file':
      return writeFields(makeDir(root, 'files', String(r.id)), r, FILE_FIELDS);
    case 'task': {
      const dir = makeDir(root, `task-${r.pid}`);
      writeFields(dir, r, TASK_FIELDS);
      for (const [type, id] of Object.entries(r.namespaces)) writeValue(makeDir(dir, 'ns'), type, String(id));
      for (const l of r.rlimits) writeFields(makeDir(dir, 'rlimits', l.resource), l, RLIMIT_FIELDS);
      if (r.fdtable !== null) symlinkSync(`../objects/${r.fdtable}/fds`, join(dir, 'fds'));
      if (r.mm !== null) symlinkSync(`../objects/${r.mm}/maps`, join(dir, 'maps'));
      return;
    }
    case 'fd':
      return writeFields(makeDir(root, 'objects', String(r.fdtable), 'fds', String(r.fd)), r, FD_FIELDS);
    case 'map':
      return writeFields(makeDir(root, 'objects', String(r.mm), 'maps', r.start), r, MAP_FIELDS);
    case 'eventfd':
    case 'epollTarget':
    case 'inotifyWatch':
    case 'timerfd':
    case 'signalfd':
    case 'tty': {
      const d = DETAIL_DIRS[r.record];
      const key = d.keyed === null ? [] : [String((r as unknown as Record<string, number>)[d.keyed])];
      return writeFields(makeDir(root, 'files', String(r.file), d.dir, ...key), r, d.fields);
    }
    case 'criuChunk':
      return writeFileSync(join(makeDir(root, CRIU_DIR, 'chunks'), String(r.id)), Buffer.from(r.data, 'base64'), { mode: 0o600, flag: 'wx' });
    case 'criuImage':
      return writeFields(makeDir(root, CRIU_DIR, 'images', encodeURIComponent(r.name)), r, CRIU_IMAGE_FIELDS);
  }
}

function writeFields(dir: string, values: object, fields: readonly TreeField[]): void {
  const v = values as Record<string, unknown>;
  for (const field of fields) {
    const text = valueText(v[field.key], field.kind);
    if (text !== undefined) writeValue(dir, field.file, text);
  }
}

function writeValue(dir: string, file: string, text: string): void {
  writeFileSync(join(dir, file), text, { mode: 0o600, flag: 'wx' });
}

function makeDir(root: string, ...parts: string[]): string {
  // Names from the store become path components: none may climb out of the tree.
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\0')) {
      throw new CkptdbError('BAD_ARGUMENT', `cannot write ${JSON.stringify(p)} as a name in the tree under ${root}`);
    }
  }
  const dir = join(root, ...parts);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
