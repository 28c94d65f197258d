/**
 * importCriu: a CRIU image directory or container checkpoint archive into the store,
 * as one checkpoint of source `criu`, all or nothing.
 *
 * Every file is kept, chunked and deduplicated (src/store/chunks.ts), so that export gives
 * back the same images; the images ckptdb models are decoded into the tables through
 * the checkpoint writer. Files are read once, in the order the source gives them:
 * pages and other large files stream straight into chunks, and only the modelled
 * images are held in memory until all of them are there to be mapped in order.
 */
import { dirname, resolve } from 'node:path';
import type { WriterCounts } from '../../store/writer/types.js';
import { CkptdbError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { ChunkWriter, type ImageRole } from '../../store/chunks.js';
import { badImage, checkWellFormed, readEntries, readHeader } from './imageFile.js';
import { imageNumber, modelledKind } from './images.js';
import { isRawImageName, isServiceFileName } from './magic.js';
import { ImportContext, MOUNTPOINTS, type ModelledImage } from './model/context.js';
import { importFds } from './model/fds.js';
import { importFiles } from './model/files.js';
import { FILE_FACT_IMAGES, readFileFacts } from './model/fileFacts.js';
import { DUMP_RUN_IMAGES, readDumpRun } from './model/dumpRun.js';
import { readInventory } from './model/inventory.js';
import { importMaps } from './model/maps.js';
import { importTasks } from './model/tasks.js';
import { ProcessMemory } from './model/memory.js';
import { statement } from '../../store/sqlFile.js';
import { containerMeta, type ContainerMeta } from './container.js';
import { openCriuSource, type SkippedEntry, type SourceFile } from './source.js';
import { indexPages } from './pageIndex.js';

export interface CriuImportOptions {
  /** Label of the new checkpoint (null: none); default: the container's name, or the directory's. */
  label?: string | null;
  /** Read each process's environment from its memory into tasks.env. Off by default: it may hold secrets. */
  env?: boolean;
  /** Passed to the checkpoint writer; default 64 MiB, in proportion to the images held in memory. */
  memoryBudget?: number;
  /** Called with the bytes of each piece of a large file taken in: pages, mostly. */
  onProgress?: (bytes: number) => void;
  /** Gives up at the next file or block once aborted, writing nothing. */
  signal?: AbortSignal;
  /** More of the checkpoint's meta, beside what the import records. */
  meta?: Record<string, unknown>;
}

export interface CriuImportResult {
  checkpointId: number;
  counts: WriterCounts;
  /** Files kept, and how many of them were decoded into tables. */
  images: number;
  modelled: number;
  /** Bytes of all files, and of the chunks this import added to the store. */
  bytes: number;
  newBytes: number;
  /** Entries of the directory or archive left out: folders, links and other files that are no regular file. */
  skipped: SkippedEntry[];
}

const DEFAULT_BUDGET = 64 * 2 ** 20;

/** Container files whose content also goes into the checkpoint's meta. */
const CONTAINER_META_FILES = new Set(['config.dump', 'spec.dump']);

export async function importCriu(store: Store, path: string, opts: CriuImportOptions = {}): Promise<CriuImportResult> {
  const source = openCriuSource(path);
  // The store would be read as one of the directory's files while it grows with them.
  if (source.kind === 'directory' && resolve(dirname(store.path)) === resolve(path)) {
    throw new CkptdbError('BAD_ARGUMENT', `${path} holds the store ${store.path}: an image directory is read whole, so the store must live elsewhere`);
  }
  const w = store.beginCheckpoint({ source: 'criu', label: opts.label ?? null, host: null, frozen: true }, { memoryBudget: opts.memoryBudget ?? DEFAULT_BUDGET });
  try {
    const onBytes = (n: number) => {
      opts.signal?.throwIfAborted();
      opts.onProgress?.(n);
    };
    const chunks = new ChunkWriter(store.db, w.checkpointId, { dbPath: store.path, onBytes });
    const decoded = new Map<string, ModelledImage>();
    const containerFiles = new Map<string, Buffer>();
    const logs: string[] = [];
    let images = 0;
    let modelled = 0;
    try {
      for await (const file of source.files()) {
        opts.signal?.throwIfAborted();
        if (await keepFile(file, chunks, decoded, containerFiles, logs)) modelled++;
        images++;
      }
      await chunks.flush();
    } finally {
      await chunks.close();
    }

    const ctx = new ImportContext(w, store.db, decoded, (name) => source.where(name));
    const { inventory: inventoryEntry, meta: inventory } = readInventory(ctx);
    const run = readDumpRun(ctx, inventoryEntry, logs);
    importFiles(ctx, readFileFacts(ctx));
    const { rootPid, processes, pids } = importTasks(ctx, new ProcessMemory(ctx, store.db), opts.env ?? false);
    importFds(ctx, inventory.fdinfo_per_id);
    importMaps(ctx);
    indexPages(store.db, w.checkpointId, decoded);

    const orphans = [...decoded.values()].filter((img) => /^(core|ids|fs|mm)-\d+\.img$/.test(img.name) && !pids.has(imageNumber(img.name)));
    for (const img of orphans) checkWellFormed(img.entries, img.where);
    chunks.markStored(orphans.map((img) => img.name));
    const container: ContainerMeta | null = source.kind === 'archive' ? containerMeta(path, containerFiles) : null;
    const label = opts.label !== undefined ? opts.label : (container?.name ?? source.label);
    store.db.prepare(statement('internal/criu.sql', 'set_label_root_and_host')).run(label, rootPid, run.host, run.kernel, w.checkpointId);
    opts.signal?.throwIfAborted();
    const result = w.done({
      ...opts.meta,
      criu: {
        source: source.kind, path, inventory, processes, images, modelled, bytes: chunks.totalBytes,
        ...(run.runId ? { run_id: run.runId } : {}), ...(run.stats ? { dump_stats: run.stats } : {}),
        ...(source.skipped.length ? { skipped: source.skipped.map((e) => e.name) } : {}),
      },
      ...(container ? { container } : {}),
    });
    return {
      checkpointId: result.checkpointId, counts: result.counts, images, modelled, bytes: chunks.totalBytes, newBytes: chunks.newBytes,
      skipped: source.skipped,
    };
  } catch (e) {
    w.abort();
    throw asImportError(e, path);
  }
}

/**
 * Stores one file; images that the mapping reads are kept decoded into entries in
 * `decoded`. Returns whether the file is a modelled image.
 */
async function keepFile(
  file: SourceFile,
  chunks: ChunkWriter,
  decoded: Map<string, ModelledImage>,
  containerFiles: Map<string, Buffer>,
  logs: string[],
): Promise<boolean> {
  if (file.role === 'container') {
    if (CONTAINER_META_FILES.has(file.name)) {
      const bytes = await collect(file.content);
      containerFiles.set(file.name, bytes);
      chunks.put({ name: file.name, kind: null, role: 'container', headMagic: null }, bytes, null);
    } else {
      await stream(file, chunks, 'container');
    }
    return false;
  }
  const isImage = file.name.endsWith('.img') || isServiceFileName(file.name);
  if (isRawImageName(file.name) || !isImage) {
    const head = await stream(file, chunks, isImage ? 'raw' : 'other', file.name.endsWith('.log') ? LOG_HEAD : 0);
    if (head) logs.push(head.toString('utf8'));
    return false;
  }
  const bytes = await collect(file.content);
  const header = readHeader(bytes, file.where);
  const expected = modelledKind(file.name);
  if (expected && expected !== header.kind) throw badImage(file.where, header.body - 4, `holds a ${header.kind.name} image where ${expected.name} belongs`);
  const entries = readEntries(bytes, header, file.where, !expected);
  const role: ImageRole = expected ? 'modelled' : 'stored';
  chunks.put({ name: file.name, kind: header.kind.name, role, headMagic: header.head }, bytes, entries.length);
  if (expected || READ_ONLY.some((re) => re.test(file.name))) decoded.set(file.name, { name: file.name, where: file.where, header, entries });
  return expected !== null;
}

/**
 * Images kept as they are but read: pagemaps for the command lines in the pages, the
 * mountpoints for devices, and what files.img leaves to images of their own.
 */
const READ_ONLY = [/^pagemap-\d+\.img$/, MOUNTPOINTS, FILE_FACT_IMAGES, DUMP_RUN_IMAGES];

/** What of a log is read for the dump's host and kernel: CRIU writes them in its first lines. */
const LOG_HEAD = 4096;

/**
 * Streams a file into chunks; returns its first `head` bytes when asked for. A file of
 * its own (in a directory) whose head is not wanted is read straight into the blocks
 * the chunk store hashes.
 */
async function stream(file: SourceFile, chunks: ChunkWriter, role: ImageRole, head = 0): Promise<Buffer | null> {
  const rec = { name: file.name, kind: null, role, headMagic: null };
  if (!head) {
    if (file.path) await chunks.file(rec, file.path);
    else await chunks.stream(rec, file.content);
    return null;
  }
  const sink = chunks.begin(rec);
  const start: Buffer[] = [];
  let kept = 0;
  for await (const piece of file.content) {
    if (kept < head) {
      start.push(Buffer.from(piece.subarray(0, head - kept)));
      kept += Math.min(piece.length, head - kept);
    }
    sink.write(piece);
  }
  sink.finish(null);
  return head ? Buffer.concat(start) : null;
}

async function collect(content: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const piece of content) parts.push(piece);
  return Buffer.concat(parts);
}

/** A file named twice in an archive is bad input; other SQLite errors are the store's. */
function asImportError(e: unknown, path: string): unknown {
  if (e instanceof CkptdbError) return e;
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' && /criu_images/.test((e as Error).message)) {
    return new CkptdbError('BAD_IMAGE', `${path}: a file appears twice`);
  }
  return e;
}
