/**
 * CRIU checkpoints through the built CLI, as a user works with them: import of image
 * directories (made by `crit encode`) and container checkpoint archives, the query
 * commands on what they hold, checked against crit's own reading of the same images,
 * export --format criu, show, and refusals of bad input.
 */
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { checkpointContent } from './helpers/checkpointRows.js';
import { buildArchive } from './helpers/criuArchive.js';
import { ARGS, buildFixtureWithoutZombie, critDecode, critX } from './helpers/criuFixture.js';
import { cliJson, criuFilesOf, critDecoded, critDecodedDir, imported, okCli, query } from './helpers/criuCli.js';
import { runCli } from './helpers/cli.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();
/** crit x DIR fds stops at a task without an ids image, which a zombie is: this tree has none. */
const noZombieDir = useFixture(buildFixtureWithoutZombie);

type Row = Record<string, unknown>;

describe.skipIf(skipWithout(CRIT))('ckptdb import of a CRIU image directory', () => {
  it('detects the directory, writes a checkpoint of source criu, and takes --label and --with-env', async () => {
    const db = tempStorePath();
    const plain = await runCli(['import', fixtureDir()], { db });
    const total = readdirSync(fixtureDir()).reduce((n, f) => n + statSync(join(fixtureDir(), f)).size, 0);
    expect(plain).toEqual({
      code: 0,
      stdout: '1\n',
      stderr: expect.stringMatching(new RegExp(`^imported checkpoint 1 from ${fixtureDir()} \\(33 files, ${total} bytes, \\d+ of them new to the store\\)\\n$`)),
    });
    const labelled = await imported(db, fixtureDir(), '--label', 'before upgrade', '--with-env');
    const tasks = (id: number) => query(db, 'SELECT c.source, c.label, t.pid, t.cmdline, t.env FROM tasks t JOIN checkpoints c ON c.id = t.checkpoint_id WHERE c.id = :c AND t.pid IN (100, 120) ORDER BY t.pid', id);
    const label = fixtureDir().split('/').at(-1);
    const cmd100 = JSON.stringify(ARGS[100]!.args);
    expect(await tasks(1)).toEqual([
      { source: 'criu', label, pid: 100, cmdline: cmd100, env: null },
      { source: 'criu', label, pid: 120, cmdline: null, env: null },
    ]);
    expect(await tasks(labelled)).toEqual([
      { source: 'criu', label: 'before upgrade', pid: 100, cmdline: cmd100, env: JSON.stringify(ARGS[100]!.env) },
      { source: 'criu', label: 'before upgrade', pid: 120, cmdline: null, env: null },
    ]);
  });

  it('refuses --with-env for a format that does not take it, before anything is written', async () => {
    const db = tempStorePath();
    await imported(db, fixtureDir());
    const image = join(tempDir(), 'ck.json');
    await okCli(db, ['export', '1', '--out', image]);
    const r = await runCli(['import', image, '--with-env'], { db });
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'ckptdb: --with-env does not apply to the image format (it applies to criu)\n' });
    expect(await query(db, 'SELECT count(*) AS n FROM checkpoints')).toEqual([{ n: 1 }]);
  });
});

/**
 * `crit x DIR fds` names what an fd points to in its own words; the test brings them to
 * the names /proc/PID/fd links have, which is what ckptdb's path column holds:
 *  - a path stays as it is;
 *  - pipe[ID] is pipe:[ID];
 *  - unix[INO (PEER) NAME] is socket:[INO], its peer and name kept aside to compare
 *    with `ckptdb q sockets`;
 *  - TYPE.ID (crit's name for inet sockets and eventfds) is the files.img entry of that
 *    CRIU id, resolved through crit's own decode of files.img: socket:[INO] for an
 *    INETSK entry, anon_inode:[eventfd] for an EVENTFD entry.
 */
function critFds(text: string, files: Row[]) {
  const fds: { pid: number; fd: number; target: string }[] = [];
  const fs: { pid: number; cwd: string; root: string }[] = [];
  const unix = new Map<string, { peer_ino: number | null; local_addr: string | null }>();
  const byId = new Map(files.map((f) => [f.id as number, f]));
  const target = (name: string): string => {
    let m = /^pipe\[(\d+)\]$/.exec(name);
    if (m) return `pipe:[${m[1]}]`;
    m = /^unix\[(\d+) \((\d+)\)(?: (.+))?\]$/.exec(name);
    if (m) {
      unix.set(`socket:[${m[1]}]`, { peer_ino: Number(m[2]) || null, local_addr: m[3] ?? null });
      return `socket:[${m[1]}]`;
    }
    m = /^([A-Z]+)\.(\d+)$/.exec(name);
    if (m) {
      const entry = byId.get(Number(m[2]))!;
      expect(entry.type, name).toBe(m[1]);
      if (m[1] === 'INETSK') return `socket:[${(entry.isk as Row).ino as number}]`;
      if (m[1] === 'EVENTFD') return 'anon_inode:[eventfd]';
      throw new Error(`crit names ${name}, which this test cannot resolve`);
    }
    return name;
  };
  let pid = 0;
  for (const line of text.split('\n')) {
    const process = /^(\d+)$/.exec(line);
    const slot = /^\t *(\d+|cwd|root): (.*)$/.exec(line);
    if (process) {
      pid = Number(process[1]);
      fs.push({ pid, cwd: '', root: '' });
    } else if (slot && (slot[1] === 'cwd' || slot[1] === 'root')) {
      fs.at(-1)![slot[1]] = slot[2]!;
    } else if (slot) {
      fds.push({ pid, fd: Number(slot[1]), target: target(slot[2]!) });
    } else if (line !== '') {
      throw new Error(`unexpected line of crit x fds: ${JSON.stringify(line)}`);
    }
  }
  return { fds, fs, unix };
}

describe.skipIf(skipWithout(CRIT))('the query commands on an imported CRIU checkpoint', () => {
  it('fds --json shows each process its fds and what they point to, as `crit x DIR fds` does', async () => {
    const db = tempStorePath();
    const id = await imported(db, noZombieDir());
    const crit = critFds(await critX(noZombieDir(), 'fds'), (await critDecoded(join(noZombieDir(), 'files.img'))).entries);
    expect(crit.fds.length).toBe(18);

    const ours = await cliJson(db, ['fds', String(id)]);
    expect(ours.map((r) => ({ pid: r.pid, fd: r.fd, target: r.path }))).toEqual(crit.fds.sort((a, b) => a.pid - b.pid || a.fd - b.fd));
    const unix = (await cliJson(db, ['q', 'sockets', '-p', `checkpoint=${id}`])).filter((s) => s.family === 'unix');
    expect(new Map(unix.map((s) => [s.socket, { peer_ino: s.peer_ino, local_addr: s.local_addr }]))).toEqual(crit.unix);
    expect(await query(db, 'SELECT pid, cwd, root FROM tasks WHERE checkpoint_id = :c AND pid = tgid ORDER BY pid', id)).toEqual(crit.fs.sort((a, b) => a.pid - b.pid));
  });

  it('ps draws the tree `crit x DIR ps` draws, with the parents and threads of pstree.img', async () => {
    const db = tempStorePath();
    const id = await imported(db, fixtureDir());
    // crit x ps: PID PGID SID, then the comm indented four spaces a level.
    const crit = (await critX(fixtureDir(), 'ps')).trimEnd().split('\n').slice(1).map((line) => {
      const m = /^ *(\d+) +(\d+) +(\d+)   ( *)(.*)$/.exec(line)!;
      return { pid: Number(m[1]), depth: m[4]!.length / 4, comm: m[5] };
    });
    expect(crit.map((p) => p.pid)).toEqual([100, 110, 130, 120, 140]);
    const pstree = new Map((await critDecoded(join(fixtureDir(), 'pstree.img'))).entries.map((e) => [e.pid as number, e]));
    // A dead task has no threads in pstree.img; ckptdb keeps it as the one task it was.
    const threads = (pid: number) => Math.max(1, (pstree.get(pid)!.threads as number[] | undefined)?.length ?? 0);

    const ours = await cliJson(db, ['ps', String(id)]);
    expect(ours.map((p) => ({ pid: p.pid, depth: p.depth, comm: p.comm }))).toEqual(crit);
    // CRIU writes 0 for the parent of the root, which it does not know: ckptdb keeps it unknown
    expect(ours.map((p) => [p.ppid, p.threads])).toEqual(crit.map((p) => [pstree.get(p.pid)!.ppid || null, threads(p.pid)]));
    expect(ours.map((p) => [p.pid, p.state, p.cmdline])).toEqual([
      [100, 'alive', ARGS[100]!.args], [110, 'alive', ARGS[110]!.args], [130, 'alive', null], [120, 'T', null], [140, 'Z', null],
    ]);
    const table = (await okCli(db, ['ps', String(id)])).stdout;
    expect(table.split('\n').slice(2, -1).map((l) => l.trimEnd())).toEqual([
      'server(100)              3  /usr/bin/server --port 8080',
      '├─ worker(110)           1  worker -n 4',
      '│  └─ helper(130)        1',
      '├─ logger(120)           1',
      '└─ reaped(140)           1',
    ]);
  });

  it('objects gives every shared object the refcount that the references in the images add up to', async () => {
    const db = tempStorePath();
    const id = await imported(db, fixtureDir());
    const images = await critDecodedDir(fixtureDir());
    const expected = new Map<string, number>();
    const add = (kind: string, key: string, n: number) => expected.set(`${kind} ${key}`, (expected.get(`${kind} ${key}`) ?? 0) + n);
    // Tasks: every thread of a process uses the objects its ids image names.
    for (const p of images.get('pstree.img')!.entries) {
      const ids = images.get(`ids-${p.pid as number}.img`)?.entries[0];
      if (!ids) continue;
      const threads = (p.threads as number[]).length;
      add('mm', `vm:${ids.vm_id as number}`, threads);
      add('fdtable', `files:${ids.files_id as number}`, threads);
      add('fs', `fs:${ids.fs_id as number}`, threads);
      add('sighand', `sighand:${ids.sighand_id as number}`, threads);
      for (const ns of ['pid', 'net', 'ipc', 'uts', 'mnt', 'user', 'cgroup']) add('ns', `${ns}:${ids[`${ns}_ns_id`] as number}`, threads);
    }
    // Open files: referenced by fds; the pipe, socket or inode behind each, by its files.
    for (const f of images.get('files.img')!.entries) {
      add('file', `file:${f.id as number}`, 0);
      const pipe = f.pipe as Row | undefined;
      const socket = (f.usk ?? f.isk) as Row | undefined;
      const reg = f.reg as Row | undefined;
      if (pipe) add('pipe', `pipe:[${pipe.pipe_id as number}]`, 1);
      if (socket) add('socket', `socket:[${socket.ino as number}]`, 1);
      if (reg) add('inode', `path:${reg.mnt_id as number}:${reg.name as string}`, 1);
    }
    for (const [name, img] of images) if (name.startsWith('fdinfo-')) for (const fd of img.entries) add('file', `file:${fd.id as number}`, 1);

    const ours = await cliJson(db, ['objects', String(id)]);
    expect(new Map(ours.map((o) => [`${o.kind as string} ${o.key as string}`, o.refcount]))).toEqual(expected);
    expect(ours.find((o) => o.key === 'files:2')).toMatchObject({ refcount: 3, holders: '100/100,101,102' });
    expect(ours.find((o) => o.key === 'pipe:[5000]')).toMatchObject({ refcount: 2, holders: '100:4 110:3 130:3' });
  });

  it('the canned queries find the pipe, the sockets, the shared files and the shared tables', async () => {
    const db = tempStorePath();
    const id = await imported(db, fixtureDir());
    // Without the store's row ids (pipe_id, file_id, object_id): they number rows, not the checkpoint's things.
    // CRIU's ids decide all sharing, so none of it is inferred.
    const q = async (name: string) => (await cliJson(db, ['q', name, '-p', `checkpoint=${id}`]))
      .map(({ pipe_id: _p, file_id: _f, object_id: _o, ...rest }) => rest);
    expect(await q('pipes')).toEqual([{ pipe: 'pipe:[5000]', read_end: '110:3 130:3', write_end: '100:4' }]);
    const socket = (s: Row) => ({ local_port: null, remote_addr: null, remote_port: null, peer_ino: null, local_addr: null, ...s });
    expect(await q('sockets')).toEqual([
      socket({ role: 'listening', family: 'unix', type: 'stream', state: 'LISTEN', local_addr: '/run/app.sock', socket: 'socket:[7003]', holders: '100:8' }),
      socket({ role: 'listening', family: 'inet', type: 'stream', state: 'LISTEN', local_addr: '0.0.0.0', local_port: 8080, remote_addr: '0.0.0.0', remote_port: 0, socket: 'socket:[8001]', holders: '100:9' }),
      socket({ role: 'connected', family: 'unix', type: 'stream', state: 'ESTABLISHED', peer_ino: 7002, socket: 'socket:[7001]', holders: '100:6' }),
      socket({ role: 'connected', family: 'unix', type: 'stream', state: 'ESTABLISHED', peer_ino: 7001, socket: 'socket:[7002]', holders: '120:3' }),
      socket({ role: 'connected', family: 'inet', type: 'stream', state: 'ESTABLISHED', local_addr: '127.0.0.1', local_port: 45678, remote_addr: '127.0.0.1', remote_port: 8080, socket: 'socket:[8002]', holders: '110:5 130:5' }),
    ]);
    expect(await q('shared_files')).toEqual([
      { type: 'chr', path: '/dev/null', pos: 0, flags: 0o2, flags_text: 'O_RDWR', fds: 3, processes: 4, holders: '100:0 110:0 120:0 130:0', inferred: 0 },
      {
        type: 'reg', path: '/var/log/app.log', pos: 1234, flags: 0o102001, flags_text: 'O_WRONLY|O_APPEND|O_LARGEFILE', fds: 3, processes: 2,
        holders: '100:1,5 120:7', inferred: 0,
      },
    ]);
    expect(await q('shared_tasks')).toEqual([
      { kind: 'mm', key: 'vm:1', tasks: 3, processes: 1, holders: '100/100,101,102', inferred: 0 },
      { kind: 'fdtable', key: 'files:2', tasks: 3, processes: 1, holders: '100/100,101,102', inferred: 0 },
      { kind: 'fdtable', key: 'files:12', tasks: 2, processes: 2, holders: '110/110 130/130', inferred: 0 },
    ]);
  });
});

describe.skipIf(skipWithout(CRIT))('ckptdb import of a container checkpoint archive', () => {
  for (const compression of ['gzip', 'zstd'] as const) {
    it(`reads a tar compressed with ${compression} into the rows the directory gives, labelled with the container`, async () => {
      const db = tempStorePath();
      const fromDir = await imported(db, fixtureDir());
      const archive = buildArchive(fixtureDir(), compression);
      const r = (await okCli(db, ['import', archive])).stderr;
      expect(r).toMatch(new RegExp(`^imported checkpoint 2 from ${archive} \\(36 files, \\d+ bytes, \\d+ of them new to the store\\)\\n$`));
      const store = openStore(db);
      expect(checkpointContent(store, 2).tables).toEqual(checkpointContent(store, fromDir).tables);
      store.close();
      const show = (await okCli(db, ['show', '2'])).stdout;
      expect(show).toMatch(/^label +web-1$/m);
      expect(show).toMatch(/^container +web-1 \(docker\.io\/library\/nginx:latest, crun\)$/m);
      expect(show).toMatch(/^criu files +36 \(3 container, 25 modelled, 1 other, 2 raw, 5 stored\)$/m);
      // Everything of the image directory is the directory's import's too; the container's files are new.
      const dir = criuFilesOf(fixtureDir());
      expect(show).toMatch(new RegExp(`^criu shared +${dir.chunks} chunks \\(${dir.chunkBytes} bytes\\) held by other checkpoints too; \\d+ bytes by this one alone$`, 'm'));
    });
  }
});

describe.skipIf(skipWithout(CRIT))('ckptdb export --format criu', () => {
  it('writes the image directory back: every image decodes with crit as the original does', async () => {
    const db = tempStorePath();
    const id = await imported(db, fixtureDir());
    const out = join(tempDir(), 'dump');
    const total = readdirSync(fixtureDir()).reduce((n, f) => n + statSync(join(fixtureDir(), f)).size, 0);
    const r = await runCli(['export', String(id), '--format', 'criu', '--out', out], { db });
    expect(r).toEqual({ code: 0, stdout: '', stderr: `exported checkpoint ${id} to ${out} (33 files, ${total} bytes)\n` });
    expect(readdirSync(out).sort()).toEqual(readdirSync(fixtureDir()).sort());
    for (const name of readdirSync(fixtureDir())) {
      expect(statSync(join(out, name)).mode & 0o777, name).toBe(0o600);
      if (name.endsWith('.img') && !name.startsWith('pages-')) expect(await critDecode(join(out, name)), name).toBe(await critDecode(join(fixtureDir(), name)));
      else expect(readFileSync(join(out, name)).equals(readFileSync(join(fixtureDir(), name))), name).toBe(true);
    }
    expect(await runCli(['export', String(id), '--format', 'criu'], { db })).toEqual({ code: 2, stdout: '', stderr: 'ckptdb: --format criu writes a directory: name it with --out DIR\n' });
    expect(await runCli(['export', String(id), '--format', 'criu', '--out', out], { db })).toEqual({ code: 2, stdout: '', stderr: `ckptdb: ${out} exists and is not empty\n` });
  });

  it('refuses a checkpoint captured live from /proc, saying why, and writes no directory', async () => {
    const db = tempStorePath();
    const captured = await runCli(['capture', String(process.pid)], { db });
    expect(captured.code).toBe(0);
    const id = captured.stdout.trim();
    const out = join(tempDir(), 'dump');
    expect(await runCli(['export', id, '--format', 'criu', '--out', out], { db })).toEqual({
      code: 2,
      stdout: '',
      stderr: `ckptdb: checkpoint ${id} was captured from /proc, not imported from CRIU: it has no registers, memory pages or the rest that criu restore needs `
        + '(export it as a ckptdb image instead, or checkpoint the processes with criu dump and import that)\n',
    });
    expect(() => statSync(out)).toThrow();
  });
});

describe.skipIf(skipWithout(CRIT))('ckptdb show and verify of CRIU checkpoints', () => {
  it('show says what the checkpoint keeps of CRIU and how much of it other checkpoints share', async () => {
    const db = tempStorePath();
    const first = await imported(db, fixtureDir());
    const files = criuFilesOf(fixtureDir());
    const summary = (shared: boolean) => ({
      roles: [
        { role: 'modelled', files: 25, bytes: files.bytesOf((n) => !/^(pagemap|pages|pipes-data|tcp-stream|stats|dump)/.test(n)) },
        { role: 'other', files: 1, bytes: files.bytesOf((n) => n === 'dump.log') },
        { role: 'raw', files: 2, bytes: files.bytesOf((n) => n.startsWith('pages-')) },
        { role: 'stored', files: 5, bytes: files.bytesOf((n) => /^(pagemap|pipes-data|tcp-stream|stats)/.test(n)) },
      ],
      files: 33,
      bytes: files.bytes,
      chunks: files.chunks,
      chunkBytes: files.chunkBytes,
      sharedChunks: shared ? files.chunks : 0,
      sharedBytes: shared ? files.chunkBytes : 0,
    });
    expect((await cliJson<Row>(db, ['show', String(first)])).criu).toEqual(summary(false));
    const second = await imported(db, fixtureDir());
    expect((await cliJson<Row>(db, ['show', String(second)])).criu).toEqual(summary(true));
    const table = (await okCli(db, ['show', String(first)])).stdout;
    expect(table.split('\n').filter((l) => l.startsWith('criu '))).toEqual([
      'criu files        33 (25 modelled, 1 other, 2 raw, 5 stored)',
      `criu bytes        ${files.bytes} in the files, ${files.chunkBytes} in ${files.chunks} distinct chunks`,
      `criu shared       ${files.chunks} chunks (${files.chunkBytes} bytes) held by other checkpoints too; 0 bytes by this one alone`,
    ]);
    await okCli(db, ['rm', String(second)]);
    expect((await cliJson<Row>(db, ['show', String(first)])).criu).toEqual(summary(false));
  });

  it('verify checks the chunks and sizes of the kept files with the rest of the store', async () => {
    const db = tempStorePath();
    await imported(db, fixtureDir());
    expect(await runCli(['verify'], { db })).toEqual({ code: 0, stdout: '', stderr: 'ok: the store is consistent\n' });
    const store = openStore(db);
    const chunk = store.db.prepare("SELECT c.id, hex(c.hash) AS hash FROM criu_chunks c JOIN criu_image_chunks ic ON ic.chunk_id = c.id JOIN criu_images i ON i.id = ic.image_id WHERE i.name = 'files.img'").get() as { id: number; hash: string };
    const pack = Number(store.db.prepare("INSERT INTO criu_packs (codec, size, data) SELECT 'none', size, zeroblob(size) FROM criu_chunks WHERE id = ?").run(chunk.id).lastInsertRowid);
    store.db.prepare('UPDATE criu_chunks SET pack_id = ?, pack_offset = 0 WHERE id = ?').run(pack, chunk.id);
    store.db.prepare("UPDATE criu_images SET size = size + 1 WHERE name = 'dump.log'").run();
    store.close();
    const expected = [
      { check: 'chunk_hash', checkpointId: null, message: `chunk ${chunk.id} no longer holds the bytes of its SHA-256 ${chunk.hash.toLowerCase()}` },
      { check: 'image_size', checkpointId: 1, message: 'image dump.log of checkpoint 1 is 15 bytes but its chunks hold 14' },
    ];
    for (const args of [['verify'], ['verify', '1']]) {
      const r = await runCli([...args, '--json'], { db });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual(expected);
    }
  });
});

describe.skipIf(skipWithout(CRIT))('ckptdb import refuses a bad CRIU checkpoint', () => {
  const truncate = (name: string, by: number) => (dir: string) => {
    const path = join(dir, name);
    return [path, readFileSync(path).subarray(0, statSync(path).size - by)] as const;
  };
  const cases: [string, (dir: string) => readonly [string, Buffer], (path: string) => RegExp][] = [
    ['a truncated image', truncate('files.img', 7), (p) => new RegExp(`^ckptdb: ${p}: truncated: entry of \\d+ bytes, \\d+ left at byte \\d+\\n$`)],
    ['an unknown image type', (dir) => {
      const path = join(dir, 'pagemap-110.img');
      const b = readFileSync(path);
      b.writeUInt32LE(0x12345678, 4);
      return [path, b];
    }, (p) => new RegExp(`^ckptdb: ${p}: unknown image type: magic 0x12345678 at byte 4\\n$`)],
    ['a protobuf that does not decode', (dir) => {
      const path = join(dir, 'fs-110.img');
      const b = readFileSync(path);
      b.fill(0xff, 12);
      return [path, b];
    }, (p) => new RegExp(`^ckptdb: ${p}: entry does not decode as fs_entry: .* at byte 8\\n$`)],
  ];
  for (const [what, damage, message] of cases) {
    it(`${what}: one line naming the file and the offset, exit 2, the store as it was`, async () => {
      const db = tempStorePath();
      await imported(db, fixtureDir());
      const before = readFileSync(db);
      const dir = tempDir();
      cpSync(fixtureDir(), dir, { recursive: true });
      const [path, bytes] = damage(dir);
      writeFileSync(path, bytes);
      const r = await runCli(['import', dir], { db });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      expect(readFileSync(db).equals(before)).toBe(true);
      expect(readdirSync(join(db, '..'))).toEqual(['store.sqlite']);

      // The same image inside a container archive: named by its path in the archive.
      const archive = buildArchive(dir, 'gzip');
      const inArchive = await runCli(['import', archive], { db });
      expect(inArchive.code).toBe(2);
      expect(inArchive.stderr).toMatch(message(`${archive}:checkpoint/${path.split('/').at(-1)!}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      expect(readFileSync(db).equals(before)).toBe(true);
    });
  }
});
