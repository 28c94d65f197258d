/**
 * exportCriu: a checkpoint imported from CRIU back into a CRIU image directory.
 *
 * The images ckptdb models are rebuilt from the tables over the original images, so a
 * change made in the store reaches them while everything ckptdb does not model
 * (registers, timers, socket options, unknown fields) stays as CRIU wrote it; the
 * other files come back byte for byte from their chunks. The directory is written
 * under a temporary name beside the target and renamed into place when complete.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, rmdirSync, constants as fsc } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { checkpointImages, imageBytes } from '../../store/chunks.js';
import { writeChunks } from '../../store/chunkFile.js';
import { ImageFiles } from '../../store/imageFiles.js';
import { LEGACY_FILE_IMAGES, imageNumber } from './images.js';
import { taskObjectKey } from './keys.js';
import { ExportContext, type OriginalImage } from './model/exportContext.js';
import { exportFdinfo, fdtableKeyOf } from './model/fds.js';
import { checkAllFilesWritten, exportFileImage, fileTypes } from './model/files.js';
import { exportMm } from './model/maps.js';
import { loadRows } from './model/rows.js';
import { exportCore, exportFs, exportIds, exportPstree } from './model/tasks.js';

export interface CriuExportResult {
  dir: string;
  /** Files written, how many of them were rebuilt from changed rows, and their bytes. */
  files: number;
  rebuilt: string[];
  bytes: number;
}

export async function exportCriu(store: Store, checkpointId: number, dir: string): Promise<CriuExportResult> {
  const cp = store.getCheckpoint(checkpointId);
  if (cp.source !== 'criu') {
    throw new CkptdbError(
      'UNSUPPORTED',
      `checkpoint ${checkpointId} was captured from ${cp.source === 'proc' ? '/proc' : `source ${cp.source}`}, not imported from CRIU: it has no registers, memory pages or the rest that criu restore needs`,
      'export it as a ckptdb image instead, or checkpoint the processes with criu dump and import that',
    );
  }
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) throw new CkptdbError('BAD_ARGUMENT', `${target} exists and is not empty`);
  const images = checkpointImages(store.db, checkpointId).filter((i) => i.role !== 'container');
  const byName = new Map(images.map((i) => [i.name, i]));
  if (!byName.has('inventory.img')) {
    throw new CkptdbError(
      'UNSUPPORTED',
      `checkpoint ${checkpointId} is of source criu but keeps none of CRIU's files (no inventory.img): it came through an image without them, and criu restore needs them`,
      'import the CRIU image directory or archive itself',
    );
  }
  const meta = cp.meta ? (JSON.parse(cp.meta) as { criu?: { inventory?: { fdinfo_per_id?: boolean } } }) : {};
  const ex = new ExportContext(
    loadRows(store.db, checkpointId),
    (name) => {
      const img = byName.get(name);
      return img ? imageBytes(store.db, img.id) : null;
    },
    meta.criu?.inventory?.fdinfo_per_id ?? true,
  );

  const tmp = mkdtempSync(join(dirname(target), `.${basename(target)}.ckptdb-`));
  const files = new ImageFiles(store.db, store.path);
  // the large files are written by workers while the rest are rebuilt here
  const writing: Promise<number>[] = [];
  try {
    const result: CriuExportResult = { dir: target, files: 0, rebuilt: [], bytes: 0 };
    const write = (name: string, bytes: Buffer) => {
      writeFile(join(tmp, name), bytes);
      result.files++;
      result.bytes += bytes.length;
    };
    const types = fileTypes(ex);
    const filesSeen = new Set<string>();
    const fdtablesWritten = new Set<string>();
    for (const img of images) {
      if (img.role !== 'modelled') {
        writing.push(files.write(img, join(tmp, img.name)));
        result.files++;
        continue;
      }
      const original = ex.original(img.name)!;
      const bytes = rebuildModelled(ex, original, types, filesSeen, fdtablesWritten);
      if (bytes === null) continue;
      if (bytes !== original.bytes) result.rebuilt.push(img.name);
      write(img.name, bytes);
    }
    checkAllFilesWritten(ex, filesSeen);
    for (const key of ex.rows.fds.keys()) {
      if (fdtablesWritten.has(key)) continue;
      const id = /^files:(\d+)$/.exec(key);
      if (!id || !ex.fdinfoPerId) throw new CkptdbError('UNSUPPORTED', `fd table ${key} has no fdinfo image in the checkpoint and no CRIU id to name one`);
      const name = `fdinfo-${id[1]}.img`;
      write(name, exportFdinfo(ex, null, key, types));
      result.rebuilt.push(name);
    }
    for (const bytes of await Promise.all(writing)) result.bytes += bytes;
    if (existsSync(target)) rmdirSync(target);
    renameSync(tmp, target);
    return result;
  } catch (e) {
    await Promise.allSettled(writing);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await files.close();
  }
}

function rebuildModelled(ex: ExportContext, img: OriginalImage, types: Map<number, number>, filesSeen: Set<string>, fdtables: Set<string>): Buffer | null {
  const name = img.name;
  if (name === 'pstree.img') return exportPstree(ex, img);
  if (name === 'files.img' || name in LEGACY_FILE_IMAGES) return exportFileImage(ex, img, filesSeen);
  if (name.startsWith('core-')) return exportCore(ex, img);
  if (name.startsWith('ids-')) return exportIds(ex, img);
  if (name.startsWith('mm-')) return exportMm(ex, img);
  if (name.startsWith('fs-')) return exportFs(ex, img);
  if (name.startsWith('fdinfo-')) {
    const key = fdtableKeyOf(ex, name) ?? taskObjectKey('fdtable', imageNumber(name));
    fdtables.add(key);
    return exportFdinfo(ex, img, key, types);
  }
  return img.bytes;
}

/** Writes a file only its owner can read: it holds the memory of the checkpointed processes. */
function writeFile(path: string, bytes: Buffer): void {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    writeChunks(fd, [bytes]);
  } finally {
    closeSync(fd);
  }
}
