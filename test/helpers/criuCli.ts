/** Running the built CLI on CRIU checkpoints, and reading what crit and the files say about them. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, type CliResult } from './cli.js';
import { critDecode } from './criuFixture.js';

type Row = Record<string, unknown>;

/** Runs the CLI on the store and expects it to succeed. */
export async function okCli(db: string, args: string[]): Promise<CliResult> {
  const r = await runCli(args, { db });
  expect(r.code, `ckptdb ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** What a command prints with --json. */
export async function cliJson<T = Row[]>(db: string, args: string[]): Promise<T> {
  return JSON.parse((await okCli(db, [...args, '--json'])).stdout) as T;
}

/** `ckptdb import PATH ...`, returning the new checkpoint's id. */
export async function imported(db: string, path: string, ...args: string[]): Promise<number> {
  return Number((await okCli(db, ['import', path, ...args])).stdout.trim());
}

/** `ckptdb query SQL`, with the checkpoint id bound to :c when given. */
export function query(db: string, sql: string, checkpoint?: number): Promise<Row[]> {
  return cliJson(db, ['query', sql, ...(checkpoint === undefined ? [] : ['-p', `c=${checkpoint}`])]);
}

export interface Decoded {
  magic: string;
  entries: Row[];
}

export async function critDecoded(path: string): Promise<Decoded> {
  return JSON.parse(await critDecode(path)) as Decoded;
}

/** `crit decode` of every image of a directory that has CRIU's magic (not the pages), by name. */
export async function critDecodedDir(dir: string): Promise<Map<string, Decoded>> {
  const images = new Map<string, Decoded>();
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.img') && !name.startsWith('pages-')) images.set(name, await critDecoded(join(dir, name)));
  }
  return images;
}

/**
 * The files of a directory as ckptdb's storage should count them, worked out from the
 * files themselves: their bytes, and the distinct 4 KiB pieces (cut from each file's
 * start) they are made of.
 */
export function criuFilesOf(dir: string) {
  const sizes = new Map<string, number>();
  const distinct = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, name));
    sizes.set(name, bytes.length);
    for (let at = 0; at < bytes.length; at += 4096) {
      const piece = bytes.subarray(at, at + 4096);
      distinct.set(createHash('sha256').update(piece).digest('hex'), piece.length);
    }
  }
  const bytesOf = (which: (name: string) => boolean) => [...sizes].filter(([n]) => which(n)).reduce((sum, [, s]) => sum + s, 0);
  return {
    bytes: bytesOf(() => true),
    chunks: distinct.size,
    chunkBytes: [...distinct.values()].reduce((a, b) => a + b, 0),
    bytesOf,
  };
}
