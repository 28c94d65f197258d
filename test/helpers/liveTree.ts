/**
 * Real captures for the query tests: test/fixtures/proc-tree.py spawned once per test
 * file, with a command line that holds commas, quotes and a newline, captured twice
 * through the built CLI (checkpoint `older`, then `newest`: the same tree, the same
 * pids, other row ids), then killed. The store outlives the tree, for every test of
 * the file; a test that changes files works on a copy (copyStore).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { runCli } from './cli.js';
import { killGroup, startFixture, stdoutPeerInode, type ProcTree } from './processes.js';
import { procTreeShape, type TreeShape } from './procTreeShape.js';
import { tempStorePath } from './tmp.js';

/** An argument every process of the tree has on its command line. */
export const TRICKY_ARG = 'say "hi, there"\nbye';

export interface LiveTree {
  db: string;
  tree: ProcTree;
  shape: TreeShape;
  older: number;
  newest: number;
}

/** Registers the capture (beforeAll) and the cleanup (afterAll); the returned function gives the result in a test. */
export function useLiveTree(): () => LiveTree {
  let live: LiveTree | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckptdb-live-'));
    const { child, info } = await startFixture<ProcTree>('proc-tree.py', [dir, TRICKY_ARG]);
    info.inodes.stdout_peer = stdoutPeerInode(child);
    try {
      const db = join(dir, 'store.sqlite');
      const ids: number[] = [];
      for (const label of ['older', 'newest']) {
        const r = await runCli(['capture', String(info.parent), '--tree', '--label', label], { db });
        // the tree sleeps while it is captured: nothing vanishes, everything may be read
        if (r.code !== 0 || /warning/.test(r.stderr)) throw new Error(`capture of the tree failed: ${r.stderr}`);
        ids.push(Number(r.stdout));
      }
      live = { db, tree: info, shape: procTreeShape(info), older: ids[0]!, newest: ids[1]! };
    } finally {
      await killGroup(child);
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!live) throw new Error('the live tree was not captured');
    return live;
  };
}

/** A copy of the live store in a fresh directory, removed after the test. */
export function copyStore(live: LiveTree): string {
  const path = tempStorePath();
  copyFileSync(live.db, path);
  return path;
}

/** A shared object's id in a checkpoint, by kind and key; throws for one the checkpoint lacks. */
export type ObjectIds = (kind: string, key: string) => number;

export function objectIds(db: Database.Database, checkpoint: number): ObjectIds {
  const rows = db.prepare('SELECT kind, key, id FROM shared_objects WHERE checkpoint_id = ?').all(checkpoint) as { kind: string; key: string; id: number }[];
  const ids = new Map(rows.map((r) => [`${r.kind} ${r.key}`, r.id]));
  return (kind, key) => {
    const id = ids.get(`${kind} ${key}`);
    if (id === undefined) throw new Error(`no ${kind} ${key} in checkpoint ${checkpoint}`);
    return id;
  };
}
