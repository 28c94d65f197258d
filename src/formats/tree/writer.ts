import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { checkpointRecords } from '../image/exporter.js';
import type { ImageRecord } from '../image/types.js';
import { DONE } from './layout.js';
import { placeRecord, type TreeItems } from './render.js';

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
  const { at, items } = placeRecord(r);
  writeItems(makeDir(root, ...at), items);
}

function writeItems(dir: string, items: TreeItems): void {
  for (const [name, item] of items) {
    checkName(dir, name);
    switch (item.type) {
      case 'file':
        writeFileSync(join(dir, name), item.data, { mode: 0o600, flag: 'wx' });
        break;
      case 'dir':
        writeItems(makeDir(dir, name), item.items);
        break;
      case 'link':
        symlinkSync(item.target, join(dir, name));
        break;
    }
  }
}

function makeDir(root: string, ...parts: string[]): string {
  for (const p of parts) checkName(root, p);
  const dir = join(root, ...parts);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Names from the store become path components: none may climb out of the tree. */
function checkName(root: string, name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new CkptdbError('BAD_ARGUMENT', `cannot write ${JSON.stringify(name)} as a name in the tree under ${root}`);
  }
}
