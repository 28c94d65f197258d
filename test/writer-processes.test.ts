import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { tempStorePath } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/writer-child.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Writer {
  child: ChildProcess;
  /** Resolves with the first stdout line that starts with the word. */
  line(word: string): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWriter(path: string, tasks: number, perTask: number, ...flags: string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(tasks), String(perTask), ...flags], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  let buffer = '';
  const lines: string[] = [];
  const waiters: { word: string; resolve: (l: string) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const l = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      lines.push(l);
      for (const w of waiters.splice(0)) (l.startsWith(w.word) ? w.resolve(l) : waiters.push(w));
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exit,
    line: (word) => {
      const seen = lines.find((l) => l.startsWith(word));
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ word, resolve }));
    },
  };
}

/** A digest of every row of every table, to tell that finished checkpoints did not change. */
function digest(path: string): string {
  const store = openStore(path, { create: false });
  const h = createHash('sha256');
  for (const t of ['checkpoints', 'shared_objects', 'files', 'tasks', 'fds']) {
    for (const row of store.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).raw().iterate()) h.update(JSON.stringify(row));
  }
  store.close();
  return h.digest('hex');
}

describe('writers in other processes', () => {
  it('a writer killed with SIGKILL at any moment leaves the store consistent and earlier checkpoints intact', async () => {
    const path = tempStorePath();
    const first = startWriter(path, 20, 50);
    expect((await first.exit).code).toBe(0);
    const before = digest(path);

    for (let round = 0; round < 5; round++) {
      const w = startWriter(path, 400, 250);
      await w.line('begun');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      w.child.kill('SIGKILL');
      const { signal } = await w.exit;
      expect(signal).toBe('SIGKILL');
      expect(digest(path)).toBe(before);
      const store = openStore(path, { create: false });
      expect(store.verify()).toEqual([]);
      expect(store.listCheckpoints().length).toBe(1);
      store.close();
    }
    // The store still takes new checkpoints after all that.
    const after = startWriter(path, 5, 5);
    expect((await after.exit).code).toBe(0);
  });

  it('a reader in another process never sees a checkpoint before done()', async () => {
    const path = tempStorePath();
    openStore(path).close();
    const w = startWriter(path, 50, 20, '--pause');
    await w.line('paused');
    const count = () =>
      spawnSync('sqlite3', ['-readonly', path, 'SELECT (SELECT count(*) FROM checkpoints) || \',\' || (SELECT count(*) FROM fds)'], { encoding: 'utf8' });
    const during = count();
    expect(during.status).toBe(0);
    expect(during.stdout.trim()).toBe('0,0');
    w.child.stdin!.end('go\n');
    const done = await w.line('done');
    expect((await w.exit).code).toBe(0);
    expect(done).toMatch(/^done \d+$/);
    expect(count().stdout.trim()).toBe('1,1000');
  });

  it('two writers at once both land, one after the other', async () => {
    const path = tempStorePath();
    openStore(path).close();
    const a = startWriter(path, 30, 30, '--pause');
    await a.line('paused');
    const b = startWriter(path, 40, 10);
    // b waits for a's lock; give it time to start waiting before a finishes.
    await new Promise((r) => setTimeout(r, 500));
    a.child.stdin!.end('go\n');
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    expect([ea.code, eb.code]).toEqual([0, 0]);
    const store = openStore(path, { create: false });
    const list = store.listCheckpoints().map((c) => ({ tasks: c.tasks, fds: c.fds }));
    expect(list).toEqual([{ tasks: 30, fds: 900 }, { tasks: 40, fds: 400 }]);
    expect(store.verify()).toEqual([]);
    store.close();
  });
});

