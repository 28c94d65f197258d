/**
 * The diff computed in PostgreSQL (sql/internal/postgres/diff.sql), which compares fds by
 * a fingerprint of each and reads whole only those whose fingerprints differ, against
 * SQLite's diff of the same checkpoints: every field of an fd and its open file changed
 * alone, sharing that begins and ends, threads with fd tables of their own, sockets,
 * pids reused, 64-bit positions, and fields left out with --ignore.
 */
import { describe, expect, it } from 'vitest';
import { diffCheckpoints, openStore } from '../src/index.js';
import { openReadOnlyDatabase } from '../src/query/connection.js';
import { openPostgresDiff } from '../src/query/diff/postgres.js';
import type { DiffOptions } from '../src/query/diff/types.js';
import { pushCheckpoints } from '../src/store/postgres/push.js';
import { makeIssueChanges } from './helpers/diff.js';
import { postgresMissing, testPostgres } from './helpers/postgres.js';
import { tempStorePath } from './helpers/tmp.js';
import { Tree, checkpoint } from './helpers/tree.js';

const missing = postgresMissing();

/** Changes of the tree, each made alone between two checkpoints. */
const CHANGES: Record<string, (t: Tree) => void> = {
  issue: makeIssueChanges,
  cloexec: (t) => t.clearCloexec(4100, 7),
  pos: (t) => t.advance(4100, 5, 1),
  pos64: (t) => t.advance(4100, 5, 2n ** 62n),
  path: (t) => { t.fd(4100, 5).file.path = '/tmp/tree/log.1'; },
  type: (t) => { t.fd(4100, 5).file.type = 'memfd'; },
  dev: (t) => { t.fd(4100, 5).file.dev = '8:2'; },
  inode: (t) => { t.fd(4100, 5).file.inode = 500_009; },
  flags: (t) => { t.fd(4100, 5).file.flags |= 0o4000; },
  mode: (t) => { t.fd(4100, 5).file.mode = 0o100600; },
  reopen: (t) => t.reopen(4100, 0),
  shared: (t) => t.fork(4100, 4105, 5_000_500),
  socket: (t) => t.setSocketState(4100, 7, 'CLOSE_WAIT'),
  threadFiles: (t) => { t.startThread(4100, 4106, 5_000_600); t.unshareFiles(4106); },
  reusedPid: (t) => t.reusePid(4101, 5_000_700, 'worker'),
  exit: (t) => t.exit(4102),
};

const OPTIONS: Omit<DiffOptions, 'storeB' | 'threads'>[] = [{}, { ignore: ['pos'] }, { ignore: ['fds.cloexec', 'shared_with'] }, { only: ['fds'] }, { ignore: ['refcount'] }];

describe.skipIf(missing)(`diff in PostgreSQL${missing ? ` (${missing})` : ''}`, () => {
  it('gives the document SQLite gives, for every field of an fd changed alone, with and without ignored fields', async () => {
    const path = tempStorePath();
    const store = openStore(path);
    const pairs = new Map<string, [number, number]>();
    for (const [name, change] of Object.entries(CHANGES)) {
      const tree = new Tree();
      const a = checkpoint(store, tree, { label: `${name}-a` });
      change(tree);
      pairs.set(name, [a, checkpoint(store, tree, { label: `${name}-b`, order: 'reverse' })]);
    }
    store.close();
    const url = testPostgres().database('diff');
    const db = openReadOnlyDatabase(path);
    const remote = new Map((await pushCheckpoints(db, url)).map((p) => [p.local, p.remote]));
    db.close();
    let changed = 0;
    for (const [name, [a, b]] of pairs) {
      for (const opts of OPTIONS) {
        const onSqlite = await diffCheckpoints(path, a, b, opts);
        const diff = await openPostgresDiff(url, remote.get(a)!, remote.get(b)!, opts);
        const onPostgres = diff.toDocument();
        diff.close();
        const what = `${name} ${JSON.stringify(opts)}`;
        expect({ ...onPostgres, a: { ...onPostgres.a, store: '', checkpoint: a }, b: { ...onPostgres.b, store: '', checkpoint: b } }, what)
          .toEqual({ ...onSqlite, a: { ...onSqlite.a, store: '' }, b: { ...onSqlite.b, store: '' } });
        if (Object.keys(opts).length === 0) {
          expect(onSqlite.identical, what).toBe(false);
          changed += onSqlite.summary.fds?.changed ?? 0;
        }
      }
    }
    // each field changed alone is one changed fd (issue: two; shared: the holders' sharing)
    expect(changed).toBeGreaterThan(Object.keys(CHANGES).length);
  });
});
