/**
 * ckptdb graph on a spawned tree wired in known ways (test/fixtures/graph-tree.py): the
 * exact nodes and edges of a pipe chain, a socketpair, a TCP loopback pair, a shared
 * file and a thread group; the SVG, laid out in-process, parsed as XML by another
 * parser, names every pid; 500 processes lay out; diff --format svg marks what changed.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import type { CheckpointGraph } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { startFixture, startProcTree, waitFor } from './helpers/processes.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';

interface Tree {
  parent: number;
  a: number; b: number; c: number; d: number; e: number; f: number; g: number; h: number; i: number; j: number;
  fds: Record<'w1' | 'r1' | 'w2' | 'r2' | 'sa' | 'sb' | 'accepted' | 'client' | 'shared', number>;
  ports: { accepted: number; client: number };
}

/** Every text of an SVG (labels and tooltips), read by Python's XML parser. */
function svgTexts(svg: string): string {
  const script = `import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
assert root.tag.endswith('svg'), root.tag
out = []
for el in root.iter():
    out.append(el.text or '')
    out.extend(v for k, v in el.attrib.items() if k.endswith('title'))
print('\\n'.join(out))`;
  return execFileSync('python3', ['-c', script], { input: svg, encoding: 'utf8' });
}

describe('ckptdb graph', () => {
  it('gives the exact nodes and edges of a pipe chain, a socketpair, a TCP pair, a shared file and a thread group', async () => {
    const db = tempStorePath();
    const { info: t } = await startFixture<Tree>('graph-tree.py', [tempDir()]);
    const r = await runCli(['capture', String(t.parent), '--tree'], { db });
    expect(r.code, r.stderr).toBe(0);
    const g = JSON.parse((await runCli(['graph', '--format', 'json'], { db })).stdout) as CheckpointGraph;

    const kids = [t.a, t.b, t.c, t.d, t.e, t.f, t.g, t.h, t.i, t.j];
    expect(g.nodes.map((n) => [n.id, n.kind, n.pids, n.parent, n.threads]).sort()).toEqual(
      [[`p${t.parent}`, 'process', [t.parent], null, 1], ...kids.map((k) => [`p${k}`, 'process', [k], `p${t.parent}`, k === t.j ? 3 : 1])].sort(),
    );
    const [f, s] = [t.fds, `:${Math.min(t.f, t.g) === t.f ? t.ports.accepted : t.ports.client}↔:${Math.min(t.f, t.g) === t.f ? t.ports.client : t.ports.accepted}`];
    const tcpFds = t.f < t.g ? { from: [f.accepted], to: [f.client] } : { from: [f.client], to: [f.accepted] };
    expect(g.edges.map((e) => [e.kind, e.from, e.to, e.directed, e.fds, e.label, e.count]).sort()).toEqual([
      ['pipe', `p${t.a}`, `p${t.b}`, true, { from: [f.w1], to: [f.r1] }, `pipe ${f.w1}→${f.r1}`, 1],
      ['pipe', `p${t.b}`, `p${t.c}`, true, { from: [f.w2], to: [f.r2] }, `pipe ${f.w2}→${f.r2}`, 1],
      ['unix', `p${Math.min(t.d, t.e)}`, `p${Math.max(t.d, t.e)}`, false, t.d < t.e ? { from: [f.sa], to: [f.sb] } : { from: [f.sb], to: [f.sa] }, expect.stringMatching(/^unix \d+↔\d+$/), 1],
      ['tcp', `p${Math.min(t.f, t.g)}`, `p${Math.max(t.f, t.g)}`, false, tcpFds, `tcp ${s} ${tcpFds.from[0]}↔${tcpFds.to[0]}`, 1],
      ['file', `p${Math.min(t.h, t.i)}`, `p${Math.max(t.h, t.i)}`, false, { from: [f.shared], to: [f.shared] }, expect.stringMatching(new RegExp(`^file /.*/shared ${f.shared}↔${f.shared}$`)), 1],
    ].sort());

    // the SVG parses as XML and names every captured pid
    const svg = (await runCli(['graph'], { db })).stdout;
    const texts = svgTexts(svg);
    for (const pid of [t.parent, ...kids]) expect(texts).toMatch(new RegExp(`\\b${pid}\\b`));

    // --pid: the subtree of one process, which has no edge of its own
    const sub = JSON.parse((await runCli(['graph', '--pid', String(t.j), '--format', 'json'], { db })).stdout) as CheckpointGraph;
    expect([sub.nodes.map((n) => n.id), sub.edges]).toEqual([[`p${t.j}`], []]);

    // diff: c and g gone; their edges go with them
    process.kill(t.c, 'SIGKILL');
    process.kill(t.g, 'SIGKILL');
    await waitFor(() => !execFileSync('ps', ['-o', 'stat=', '-p', String(t.c)], { encoding: 'utf8' }).match(/^[SR]/), 5000, 'c to exit');
    const r2 = await runCli(['capture', String(t.parent), '--tree'], { db });
    expect(r2.code, r2.stderr).toBe(0);
    const dot = await runCli(['diff', r.stdout.trim(), r2.stdout.trim(), '--format', 'dot'], { db });
    expect(dot.code).toBe(1);
    const marked = (id: string) => new RegExp(`^\\s*"${id}" \\[.*color="#d62728"`, 'm');
    const zombies = /Z/.test(execFileSync('ps', ['-o', 'stat=', '-p', `${t.c},${t.g}`], { encoding: 'utf8' }));
    // an unreaped child stays as a zombie: a changed process (orange), its edges removed
    expect(dot.stdout).toMatch(zombies ? new RegExp(`^\\s*"p${t.c}" \\[.*color="#ff7f0e"`, 'm') : marked(`gone-p${t.c}`));
    expect(dot.stdout).toMatch(new RegExp(`^\\s*"p${t.b}" -> "(gone-)?p${t.c}" \\[label="pipe ${f.w2}→${f.r2}".*style=dashed, penwidth=2.5`, 'm'));
    const diffSvg = await runCli(['diff', r.stdout.trim(), r2.stdout.trim(), '--format', 'svg'], { db });
    expect(svgTexts(diffSvg.stdout)).toContain(`${t.c}`);
  });

  it('joins processes that share an address space and an fd table (CLONE_VM | CLONE_FILES)', async () => {
    const db = tempStorePath();
    const tree = await startProcTree(tempDir());
    expect((await runCli(['capture', String(tree.parent), '--tree'], { db })).code).toBe(0);
    const g = JSON.parse((await runCli(['graph', '--format', 'json', '--pid', String(tree.c3)], { db })).stdout) as CheckpointGraph;
    expect(g.nodes.map((n) => n.id).sort()).toEqual([`p${tree.c3}`, `p${tree.v}`].sort());
    const [from, to] = [`p${Math.min(tree.c3, tree.v)}`, `p${Math.max(tree.c3, tree.v)}`];
    expect(g.edges.filter((e) => e.kind === 'mm' || e.kind === 'fdtable').map((e) => [e.kind, e.from, e.to, e.label]).sort()).toEqual([
      ['fdtable', from, to, 'shared fd table'],
      ['mm', from, to, 'shared address space'],
    ]);
  });

  it('lays out 500 processes, collapsing identical siblings, and names every pid', async () => {
    const db = tempStorePath();
    const store = openStore(db);
    const w = store.beginCheckpoint({ source: 'proc', label: 'many', host: 'test', kernel: '6.1.0', frozen: false, rootPid: 1 });
    const pids: number[] = [];
    for (let s = 0; s < 20; s++) {
      const root = 1000 + s * 100;
      const roots = [root, ...Array.from({ length: 24 }, (_, k) => root + 1 + k)];
      for (const pid of roots) {
        pids.push(pid);
        const fdtable = w.addSharedObject({ kind: 'fdtable', key: String(pid) });
        w.addTask({ pid, tgid: pid, ppid: pid === root ? 1 : root, comm: pid === root ? `svc${s}` : `worker${s % 3}`, state: 'S', fdtable });
        if (pid === root) continue;
        const pipe = w.addSharedObject({ kind: 'pipe', key: `pipe:[${pid}]` });
        const wr = w.addFile({ key: `w${pid}`, type: 'pipe', path: `pipe:[${pid}]`, flags: 1, object: pipe });
        const rd = w.addFile({ key: `r${pid}`, type: 'pipe', path: `pipe:[${pid}]`, flags: 0, object: pipe });
        w.addFd({ fdtable: w.addSharedObject({ kind: 'fdtable', key: String(root) }), fd: 10 + (pid - root), cloexec: false, file: wr });
        w.addFd({ fdtable, fd: 0, cloexec: false, file: rd });
      }
    }
    w.done();
    store.close();
    const r = await runCli(['graph'], { db });
    expect(r.code, r.stderr).toBe(0);
    const texts = svgTexts(r.stdout);
    for (const pid of pids) expect(texts).toMatch(new RegExp(`\\b${pid}\\b`));
    const g = JSON.parse((await runCli(['graph', '--format', 'json'], { db })).stdout) as CheckpointGraph;
    // each service's 24 workers are one node ×24, its pipes one edge ×24
    expect(g.nodes).toHaveLength(40);
    expect(g.nodes.filter((n) => n.count === 24)).toHaveLength(20);
    expect(g.edges.map((e) => [e.kind, e.count, e.label])).toEqual(Array(20).fill(['pipe', 24, 'pipe 11,12,…,34→0 ×24']));
  });
});
