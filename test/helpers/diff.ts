import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIFF_STATUSES, openStore, type DiffDocument, type DiffEntry } from '../../src/index.js';
import { jsonValue } from '../../src/cli/render.js';
import { tempDir } from './tmp.js';
import { Tree, checkpoint } from './tree.js';

/**
 * A diff document as one line per entry, in the document's order (kind, status, key):
 * `fds changed 4100:5 pos 100→4196`, `fds added 4100/4104:3` in thread 4104's own fd table. Comparing whole outlines asserts that the diff
 * reports exactly the expected changes and nothing else.
 */
export function outline(doc: DiffDocument): string[] {
  const lines: string[] = [];
  for (const kind of doc.kinds) {
    for (const status of DIFF_STATUSES) {
      for (const e of doc[kind]![status] as DiffEntry[]) lines.push(entryLine(e));
    }
  }
  return lines;
}

/** The process of an fd or map, and the thread of a table that is not the process's own: `4100/4104`. */
function owner(key: { pid: number; thread?: { pid: number } }): string {
  return key.thread ? `${key.pid}/${key.thread.pid}` : String(key.pid);
}

function entryLine(e: DiffEntry): string {
  let key: string;
  switch (e.kind) {
    case 'tasks':
      key = String(e.key.pid);
      break;
    case 'fds':
      key = `${owner(e.key)}:${e.key.fd}`;
      break;
    case 'maps':
      key = `${owner(e.key)}@${e.key.start}`;
      break;
    case 'objects':
      key = `${e.key.kind} ${e.key.key}`;
      break;
    case 'images':
      key = e.key.name;
      break;
  }
  const changes = e.status === 'changed'
    ? Object.entries(e.changes).map(([f, c]) => ` ${f} ${jsonValue(c.old)}→${jsonValue(c.new)}`).join('')
    : '';
  return `${e.kind} ${e.status} ${key}${changes}`;
}

/** The issue's changes, in its order, made to the starting tree. */
export function makeIssueChanges(tree: Tree): void {
  tree.openFile(4100, '/tmp/tree/new');
  tree.advance(4100, 5, 4096);
  tree.close(4100, 6);
  tree.clearCloexec(4100, 7);
  tree.fork(4100, 4103, 5_000_300);
  tree.exit(4102);
  tree.startThread(4100, 4104, 5_000_400);
  tree.mapMemory(4100, 0x7f3a5c000000n, 0x21000n);
}

const CHILD_MAPS = ['000055d0c0a00000', '000055d0c1e00000', '00007ffd4a1c0000', 'ffffffffff600000'];
const NS = ['cgroup:[4026531835]', 'ipc:[4026531839]', 'mnt:[4026531841]', 'net:[4026531840]', 'pid:[4026531836]', 'user:[4026531837]', 'uts:[4026531838]'];

/**
 * What the diff of the starting tree against it after makeIssueChanges reports, and
 * why each line is there: besides the changes themselves, the new child's and the
 * ended child's tasks, fds and maps, the inode objects of the opened and closed files,
 * and the namespaces now referenced by four tasks instead of three.
 */
export const ISSUE_OUTLINE = [
  'tasks added 4104', // start a thread (in process 4100)
  'tasks added 4103', // fork a child
  'tasks removed 4102', // end a child
  'fds added 4100:8', // open a file
  ...[0, 1, 2, 3, 4, 5, 7, 8].map((fd) => `fds added 4103:${fd}`), // the forked child's fds (6 was closed before)
  'fds removed 4100:6', // close an fd
  ...[0, 1, 2, 4].map((fd) => `fds removed 4102:${fd}`), // the ended child's fds
  'fds changed 4100:5 pos 100→4196', // advance a position
  'fds changed 4100:7 cloexec true→false', // clear close-on-exec
  'maps added 4100@00007f3a5c000000', // map memory
  ...CHILD_MAPS.map((m) => `maps added 4103@${m}`),
  ...CHILD_MAPS.map((m) => `maps removed 4102@${m}`),
  'objects added inode 8:1:700000', // the opened file's inode
  'objects removed inode 8:1:500002', // /etc/hosts, closed
  ...NS.map((ns) => `objects changed ns ${ns} refcount 3→4`), // tasks 4103 and 4104 in, 4102 out
];

/**
 * The starting tree in one store file and the tree after the issue's changes in
 * another, each as its store's checkpoint 1.
 */
export function twoStores(): { a: string; b: string } {
  const dir = tempDir();
  const paths = { a: join(dir, 'a.sqlite'), b: join(dir, 'b.sqlite') };
  const tree = new Tree();
  for (const side of ['a', 'b'] as const) {
    if (side === 'b') makeIssueChanges(tree);
    const store = openStore(paths[side]);
    checkpoint(store, tree, { label: side === 'a' ? 'before' : 'after' });
    store.close();
  }
  return paths;
}

/** A digest of a store file and its WAL: to tell that reading it wrote nothing. */
export function storeDigest(path: string): string {
  const h = createHash('sha256').update(readFileSync(path));
  if (existsSync(`${path}-wal`)) h.update(readFileSync(`${path}-wal`));
  return h.digest('hex');
}
