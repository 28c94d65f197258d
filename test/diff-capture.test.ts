/**
 * The issue's test on live processes: capture a spawned tree, make known changes,
 * capture again; the diff reports exactly those changes. What a change does to memory
 * maps (a thread's stack, the heap) is the kernel's business: /proc/PID/maps, read
 * here beside each capture, says what the maps diff must be.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { captureProcesses, diffCheckpoints, openStore, type DiffDocument, type DiffEntry, type Store } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { outline } from './helpers/diff.js';
import { startFixture, taskState, waitFor } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

interface DiffTree {
  parent: number;
  c1: number;
  c2: number;
  fds: Record<'log' | 'hosts' | 'pipe_r' | 'pipe_w' | 'sock', number>;
}

/** Sends a command to the fixture and resolves with its answer line. */
function commander(child: ChildProcess): (command: string) => Promise<Record<string, number | string>> {
  const answers: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => answers.shift()?.(line));
  return (command) =>
    new Promise((resolve) => {
      answers.push((line) => resolve(JSON.parse(line) as Record<string, number | string>));
      child.stdin!.write(`${command}\n`);
    });
}

const MAP_FIELDS = ['end', 'perms', 'pgoff', 'dev', 'inode', 'path'] as const;

/** A process's maps as /proc shows them, by 16-digit start address. */
function procMaps(pid: number): Map<string, string[]> {
  const maps = new Map<string, string[]>();
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (m) maps.set(m[1]!.padStart(16, '0'), [m[2]!.padStart(16, '0'), m[3]!, m[4]!, m[5]!, m[6]!, m[7]!]);
  }
  return maps;
}

/** The maps lines of an outline that /proc says the diff must have: `status pid@start [fields]`. */
function expectedMaps(before: Map<number, Map<string, string[]>>, after: Map<number, Map<string, string[]>>): string[] {
  const lines: Record<string, string[]> = { added: [], removed: [], changed: [] };
  for (const pid of [...new Set([...before.keys(), ...after.keys()])].sort((x, y) => x - y)) {
    const a = before.get(pid) ?? new Map<string, string[]>();
    const b = after.get(pid) ?? new Map<string, string[]>();
    for (const start of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      const old = a.get(start);
      const now = b.get(start);
      if (!old) lines.added!.push(`maps added ${pid}@${start}`);
      else if (!now) lines.removed!.push(`maps removed ${pid}@${start}`);
      else {
        const fields = MAP_FIELDS.filter((_f, i) => old[i] !== now[i]);
        if (fields.length) lines.changed!.push(`maps changed ${pid}@${start} ${fields.join(',')}`);
      }
    }
  }
  return [...lines.added!, ...lines.removed!, ...lines.changed!];
}

/** The maps entries of a document, without values: `status pid@start [fields]`. */
function mapsOf(doc: DiffDocument): string[] {
  return [...doc.maps!.added, ...doc.maps!.removed, ...doc.maps!.changed].map((e: DiffEntry<'maps'>) =>
    `maps ${e.status} ${e.key.pid}@${e.key.start}${e.status === 'changed' ? ` ${Object.keys(e.changes).join(',')}` : ''}`);
}

const SIGNAL_FIELDS = [['SigPnd', 'sig_pending'], ['SigBlk', 'sig_blocked'], ['SigIgn', 'sig_ignored'], ['SigCgt', 'sig_caught']] as const;

/** A thread's signal masks as /proc shows them, by the diff's field names. */
function signalMasks(pid: number): Record<string, string> {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return Object.fromEntries(SIGNAL_FIELDS.map(([proc, field]) => [field, new RegExp(`^${proc}:\\s*(\\S+)$`, 'm').exec(status)![1]!]));
}

/** The changed line /proc says a task must have, if any: glibc, for one, catches two more signals once a second thread starts. */
function expectedSignals(pid: number, before: Record<string, string>, after: Record<string, string>): string[] {
  const fields = SIGNAL_FIELDS.map(([, f]) => f).filter((f) => before[f] !== after[f]);
  return fields.length ? [`tasks changed ${pid}${fields.map((f) => ` ${f} "${before[f]}"→"${after[f]}"`).join('')}`] : [];
}

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).map(Number).sort((x, y) => x - y);

/** Captures the tree once its parent is back to waiting for a command: its state is S, not R. */
async function capture(store: Store, root: number): Promise<number> {
  await waitFor(() => taskState(root) === 'S', 10_000, `process ${root} to wait for a command`);
  return (await captureProcesses(store, { pids: [root], tree: true })).checkpointId;
}

describe('diff of live captures', () => {
  it("reports exactly the issue's changes made to a spawned tree", async () => {
    const dir = tempDir();
    const { child, info } = await startFixture<DiffTree>('diff-tree.py', [dir]);
    const send = commander(child);
    const { parent: p, c1, c2, fds } = info;
    const store = openStore(tempStorePath());

    const a = await capture(store, p);
    const mapsBefore = new Map([p, c1, c2].map((pid) => [pid, procMaps(pid)]));
    const signalsBefore = [p, c1].map(signalMasks);
    const fdsOfC2 = fdsOf(c2);

    const opened = await send('open new');
    const advanced = await send(`advance ${fds.log} 4096`);
    await send(`close ${fds.hosts}`);
    await send(`inheritable ${fds.sock}`);
    const c3 = Number((await send('fork')).pid);
    await send(`end ${c2}`);
    const tid = Number((await send('thread')).tid);
    const mapped = String((await send('mmap 65536')).start);

    const mapsAfter = new Map([p, c1, c3].map((pid) => [pid, procMaps(pid)]));
    const signalsAfter = [p, c1].map(signalMasks);
    const b = await capture(store, p);
    const doc = await diffCheckpoints(store, a, b);

    const lines = outline(doc);
    expect(lines.filter((l) => l.startsWith('tasks'))).toEqual([
      `tasks added ${tid}`,
      `tasks added ${c3}`,
      `tasks removed ${c2}`,
      ...expectedSignals(p, signalsBefore[0]!, signalsAfter[0]!),
      ...expectedSignals(c1, signalsBefore[1]!, signalsAfter[1]!),
    ]);
    expect(lines.filter((l) => l.startsWith('fds'))).toEqual([
      `fds added ${p}:${opened.fd}`,
      ...fdsOf(c3).map((fd) => `fds added ${c3}:${fd}`),
      `fds removed ${p}:${fds.hosts}`,
      ...fdsOfC2.map((fd) => `fds removed ${c2}:${fd}`),
      `fds changed ${p}:${fds.log} pos 100→${advanced.pos}`,
      `fds changed ${p}:${fds.sock} cloexec true→false`,
      // C1 inherited the log: one open file, one position, moved for both
      `fds changed ${c1}:${fds.log} pos 100→${advanced.pos}`,
    ]);
    expect(fdsOf(c3)).toContain(Number(opened.fd));
    expect(mapsOf(doc)).toEqual(expectedMaps(mapsBefore, mapsAfter));
    expect(mapsOf(doc)).toContain(`maps added ${p}@${mapped}`);

    const objects = lines.filter((l) => l.startsWith('objects'));
    // The closed file stays: C1 and C2 inherited it (close-on-exec closes it at exec, not at fork).
    expect(objects.filter((l) => !l.startsWith('objects changed ns '))).toEqual([
      expect.stringMatching(new RegExp(`^objects added inode \\S+:${opened.ino}$`)),
    ]);
    // Four tasks instead of three now stand in each namespace.
    const namespaces = store.db.prepare("SELECT key, refcount FROM shared_objects WHERE checkpoint_id = ? AND kind = 'ns' ORDER BY key").all(a) as { key: string; refcount: number }[];
    expect(namespaces.length).toBeGreaterThan(0);
    expect(objects.filter((l) => l.startsWith('objects changed ns '))).toEqual(
      namespaces.map((ns) => `objects changed ns ${ns.key} refcount ${ns.refcount}→${(ns.refcount / 3) * 4}`),
    );
    store.close();
  });

  it('finds two captures of an idle tree identical, and says so with exit 0 in both formats', async () => {
    const { info } = await startFixture<DiffTree>('diff-tree.py', [tempDir()]);
    const db = tempStorePath();
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['capture', String(info.parent), '--tree'], { db });
      expect(r.code, r.stderr).toBe(0);
    }
    const text = await runCli(['diff', '1', '2'], { db });
    expect(text.code, text.stdout).toBe(0);
    expect(text.stdout).toMatch(/\nidentical\n$/);
    const json = await runCli(['diff', '1', '2', '--format', 'json'], { db });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as DiffDocument;
    expect(doc.identical).toBe(true);
    expect(doc.summary.tasks).toEqual({ added: 0, removed: 0, changed: 0 });
  });
});
