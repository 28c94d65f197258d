/**
 * Where a CRIU checkpoint comes from: an image directory, or a container checkpoint
 * archive (podman, CRI-O, Kubernetes: a tar, plain or compressed with gzip or zstd,
 * podman's default, with the images under checkpoint/ beside config.dump and spec.dump). Either is read file by file as a
 * stream; an archive is never unpacked to disk.
 */
import { createReadStream, lstatSync, openSync, readSync, closeSync, readdirSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Decompress } from 'fzstd';
import { CkptdbError } from '../../errors.js';

export interface SourceFile {
  /** Name in the image directory; for container files, the path in the archive. */
  name: string;
  role: 'image' | 'container';
  /** How messages name the file. */
  where: string;
  /** The bytes, in pieces; read once. */
  content: AsyncIterable<Uint8Array>;
  /** Where the file is, when it is a file of its own (in a directory): read straight from there instead of content. */
  path?: string;
}

/** An entry of the directory or archive that is no file of the checkpoint, and why. */
export interface SkippedEntry {
  name: string;
  why: string;
}

export interface CriuSource {
  kind: 'directory' | 'archive';
  /**
   * Entries left out as they were met: folders (a json/ of decoded images), links and
   * other files that are no regular file. CRIU, crit and checkpointctl ignore them too.
   */
  skipped: SkippedEntry[];
  path: string;
  /** A label for the checkpoint when none is given: the directory or archive name. */
  label: string;
  /** How messages name an image of it, also one that is missing. */
  where(name: string): string;
  files(): AsyncIterable<SourceFile>;
}

export type CriuSourceKind = CriuSource['kind'];

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

/** Whether a path is a CRIU image directory or a checkpoint archive, without reading it all. */
export function detectCriuSource(path: string): CriuSourceKind | null {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  if (st.isDirectory()) {
    try {
      return readdirSync(path).includes('inventory.img') ? 'directory' : null;
    } catch {
      return null;
    }
  }
  if (!st.isFile()) return null;
  const head = readHead(path, 512);
  if (startsWith(head, GZIP) || startsWith(head, ZSTD)) return 'archive';
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar' ? 'archive' : null;
}

export function openCriuSource(path: string): CriuSource {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw new CkptdbError('BAD_ARGUMENT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (st.isDirectory()) return directorySource(path);
  if (!st.isFile()) throw new CkptdbError('BAD_ARGUMENT', `${path} is neither a CRIU image directory nor a checkpoint archive`);
  const head = readHead(path, 512);
  const compression: Compression = startsWith(head, GZIP) ? 'gzip' : startsWith(head, ZSTD) ? 'zstd' : 'none';
  if (compression === 'none' && !(head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar')) {
    throw new CkptdbError('BAD_ARGUMENT', `${path} is neither a CRIU image directory nor a .tar, .tar.gz or .tar.zst checkpoint archive`);
  }
  return archiveSource(path, compression);
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function startsWith(buf: Buffer, magic: number[]): boolean {
  return magic.every((b, i) => buf[i] === b);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}

function directorySource(dir: string): CriuSource {
  const skipped: SkippedEntry[] = [];
  return {
    kind: 'directory',
    skipped,
    path: dir,
    label: basename(dir.replace(/\/+$/, '')) || dir,
    where: (name) => join(dir, name),
    async *files() {
      for (const name of readdirSync(dir).sort()) {
        const path = join(dir, name);
        const st = lstatSync(path);
        // An incremental dump links its predecessor as `parent`; its pages stay there.
        if (name === 'parent' && st.isSymbolicLink()) continue;
        if (!st.isFile()) {
          skipped.push({ name: st.isDirectory() ? `${name}/` : name, why: `${kindOf(st)}, not a file of the checkpoint` });
          continue;
        }
        yield { name, role: 'image', where: path, path, content: lazyStream(path) };
      }
    },
  };
}

/** A file's read stream, opened only if it is read. */
async function* lazyStream(path: string): AsyncIterable<Uint8Array> {
  yield* createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>;
}

type Compression = 'none' | 'gzip' | 'zstd';

/** zstd decompression as a stream, by fzstd (Node 20's zlib has no zstd). */
function zstdStream(Decompressor: typeof Decompress): Transform {
  const t: Transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        inflater.push(chunk);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done) {
      try {
        inflater.push(new Uint8Array(0), true);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
  const inflater = new Decompressor((data) => {
    t.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  return t;
}

function archiveSource(path: string, compression: Compression): CriuSource {
  const what = { none: '.tar', gzip: '.tar.gz', zstd: '.tar.zst' }[compression];
  const skipped: SkippedEntry[] = [];
  return {
    kind: 'archive',
    skipped,
    path,
    label: basename(path).replace(/\.tar(\.gz|\.zst)?$|\.tgz$/, ''),
    where: (name) => `${path}:checkpoint/${name}`,
    async *files() {
      // the archive readers load when an archive is read, not with every command that lists the formats
      const [{ extract: tarExtract }, zstd] = await Promise.all([import('tar-stream'), compression === 'zstd' ? import('fzstd') : null]);
      const extract = tarExtract();
      const input = createReadStream(path, { highWaterMark: 1 << 20 });
      const fail = (e: Error) => extract.destroy(new CkptdbError('BAD_IMAGE', `${path}: ${compression === 'none' ? 'tar' : compression} stream is broken: ${e.message}`));
      input.on('error', fail);
      if (compression === 'none') {
        input.pipe(extract);
      } else {
        const inflate = zstd ? zstdStream(zstd.Decompress) : createGunzip();
        inflate.on('error', fail);
        input.pipe(inflate).pipe(extract);
      }
      try {
        for await (const entry of extract) {
          const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
          if (entry.header.type === 'directory' || name === '' || name === 'checkpoint') {
            entry.resume();
            continue;
          }
          const image = name.startsWith('checkpoint/');
          const inner = image ? name.slice('checkpoint/'.length) : name;
          if (entry.header.type !== 'file' && entry.header.type !== 'contiguous-file') {
            skipped.push({ name, why: `a ${entry.header.type} entry, not a file of the checkpoint` });
            entry.resume();
            continue;
          }
          if (image && inner.includes('/')) {
            skipped.push({ name, why: 'in a folder of checkpoint/, where CRIU keeps none of its files' });
            entry.resume();
            continue;
          }
          yield { name: inner, role: image ? 'image' : 'container', where: `${path}:${name}`, content: entry as AsyncIterable<Uint8Array> };
        }
      } catch (e) {
        if (e instanceof CkptdbError) throw e;
        throw new CkptdbError('BAD_IMAGE', `${path}: not a readable ${what} archive: ${(e as Error).message}`);
      } finally {
        input.destroy();
      }
    },
  };
}
