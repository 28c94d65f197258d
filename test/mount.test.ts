/**
 * ckptdb mount on real FUSE mounts: a live capture of test/fixtures/proc-tree.py and a
 * real CRIU 4.2 dump of test/fixtures/memory-holder.py in one store, served by the built
 * CLI and read with the tools people use on files (diff, cat, dd), against what
 * `export --format tree` writes and what CRIU wrote.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { NO_CRIU, TEST_CRIU, lines, startTree, until as criuUntil } from './helpers/criuRun.js';
import { NO_FUSE, fsType, startMount, stopMounts, until } from './helpers/mount.js';
import { NOBODY, cliAs } from './helpers/nobody.js';
import { FIXTURES, killGroup, startFixture, type ProcTree } from './helpers/processes.js';

interface Holder {
  data: number;
  secret: number;
  marker: string;
}

interface Setup {
  dir: string;
  db: string;
  mnt: string;
  live: number;
  exported: string;
  /** The CRIU checkpoint, when CRIU is there. */
  criu: { id: number; dump: string; pid: number; holder: Holder; secret: Buffer } | null;
}

/** Every entry under root but those skipped, as a path relative to it, with what it is and holds. */
function entries(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (skip(rel)) continue;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(path)}`);
      else if (st.isDirectory()) {
        out.set(rel, 'dir');
        walk(path);
      } else out.set(rel, `file ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}

function diffTrees(a: string, b: string): { status: number | null; out: string } {
  const r = spawnSync('diff', ['-r', '--no-dereference', a, b], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const cli = (db: string, args: string[]) => runCli(args, { db });

describe.skipIf(!!NO_FUSE)(`ckptdb mount ${NO_FUSE}`, () => {
  let s: Setup;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckptdb-mount-'));
    const db = join(dir, 'store.sqlite');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    s = { dir, db, mnt, live: 0, exported: join(dir, 'exported'), criu: null };
    mkdirSync(join(dir, 'tree-files'));
    // --extra: the anonymous files whose details the tree holds (eventfd, epoll, inotify, timerfd, signalfd)
    const { child, info } = await startFixture<ProcTree>('proc-tree.py', [join(dir, 'tree-files'), '--extra']);
    try {
      const r = await cli(db, ['capture', String(info.parent), '--tree']);
      if (r.code !== 0) throw new Error(r.stderr);
      s.live = Number(r.stdout);
    } finally {
      await killGroup(child);
    }
    if (TEST_CRIU) {
      const out = join(dir, 'holder');
      const pid = startTree('python3', [join(FIXTURES, 'memory-holder.py'), out], out);
      await criuUntil(() => lines(out).length > 0, 10_000, 'the memory holder');
      const holder = JSON.parse(lines(out)[0]!) as Holder;
      const dump = join(dir, 'dump');
      mkdirSync(dump);
      execFileSync(TEST_CRIU, ['dump', '-t', String(pid), '-D', dump, '--leave-running', '-o', join(dir, 'dump.log')]);
      const r = await cli(db, ['import', dump]);
      if (r.code !== 0) throw new Error(r.stderr);
      s.criu = { id: Number(r.stdout), dump, pid, holder, secret: readFileSync(`${out}.secret`) };
    }
    for (const id of [s.live, s.criu?.id].filter((x) => x !== undefined)) {
      const r = await cli(db, ['export', String(id), '--format', 'tree', '--out', s.exported]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    await startMount(db, mnt);
  });

  afterAll(async () => {
    await stopMounts();
    if (s) rmSync(s.dir, { recursive: true, force: true });
  });

  it('serves a live capture exactly as export --format tree writes it: names, types, links and bytes', () => {
    const name = `checkpoint-${s.live}`;
    expect(diffTrees(join(s.mnt, name), join(s.exported, name))).toEqual({ status: 0, out: '' });
    const onDisk = entries(join(s.exported, name));
    expect(onDisk.size).toBeGreaterThan(300);
    for (const detail of ['eventfd', 'epoll', 'inotify', 'timerfd', 'signalfd']) expect([...onDisk.keys()].some((p) => p.endsWith(`/${detail}`)), detail).toBe(true);
    expect(entries(join(s.mnt, name))).toEqual(onDisk);
    expect(readFileSync(join(s.mnt, name, 'done'), 'utf8')).toBe('');
  });

  it.skipIf(!!NO_CRIU)(`serves a CRIU checkpoint as export writes it, plus criu/files/ and task-PID/mem ${NO_CRIU}`, () => {
    const name = `checkpoint-${s.criu!.id}`;
    const { status, out } = diffTrees(join(s.mnt, name), join(s.exported, name));
    expect(status).toBe(1);
    expect(out.split('\n').filter(Boolean).sort()).toEqual([
      `Only in ${join(s.mnt, name, 'criu')}: files`,
      `Only in ${join(s.mnt, name, `task-${s.criu!.pid}`)}: mem`,
    ]);
    const served = entries(join(s.mnt, name), (p) => p === 'criu/files' || p === `task-${s.criu!.pid}/mem`);
    expect(served).toEqual(entries(join(s.exported, name)));
  });

  it.skipIf(!!NO_CRIU)(`criu/files/ holds every file of the dump, byte for byte ${NO_CRIU}`, () => {
    const files = join(s.mnt, `checkpoint-${s.criu!.id}`, 'criu', 'files');
    const dumped = readdirSync(s.criu!.dump).sort();
    expect(dumped).toContain('pages-1.img');
    expect(readdirSync(files).sort()).toEqual(dumped);
    for (const f of dumped) expect(readFileSync(join(files, f)).equals(readFileSync(join(s.criu!.dump, f))), f).toBe(true);
  });

  it.skipIf(!!NO_CRIU)(`task-PID/mem reads the process's memory at its addresses, zeros between its pages ${NO_CRIU}`, () => {
    const mem = join(s.mnt, `checkpoint-${s.criu!.id}`, `task-${s.criu!.pid}`, 'mem');
    const { secret } = s.criu!;
    const fd = openSync(mem, 'r');
    try {
      const at = Buffer.alloc(secret.length);
      expect(readSync(fd, at, 0, at.length, s.criu!.holder.secret)).toBe(secret.length);
      expect(at.equals(secret)).toBe(true);
      const low = Buffer.alloc(4096, 1);
      expect(readSync(fd, low, 0, 4096, 0)).toBe(4096);
      expect(low.equals(Buffer.alloc(4096))).toBe(true);
    } finally {
      closeSync(fd);
    }
    // dd and the holes: the page of the secret is data, the first page a hole
    const page = Math.floor(s.criu!.holder.secret / 4096);
    const dd = spawnSync('dd', [`if=${mem}`, 'bs=4096', `skip=${page}`, 'count=1', 'status=none']);
    const into = s.criu!.holder.secret % 4096;
    expect(dd.stdout.length).toBe(4096);
    expect(dd.stdout.subarray(into).equals(secret.subarray(0, 4096 - into))).toBe(true);
    const seek = spawnSync('python3', ['-c', `import os; fd = os.open(${JSON.stringify(mem)}, os.O_RDONLY); print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, ${page * 4096}, os.SEEK_HOLE) > ${s.criu!.holder.secret}, os.lseek(fd, 0, os.SEEK_HOLE))`], { encoding: 'utf8' });
    const [firstData, holeAfterSecret, firstHole] = seek.stdout.trim().split(' ');
    expect(Number(firstData)).toBeGreaterThan(0);
    expect(holeAfterSecret).toBe('True');
    expect(firstHole).toBe('0');
  });

  it('shows a checkpoint committed while mounted at once, /latest pointing at it, and drops it when removed', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const r = await cli(s.db, ['capture', String(sleeper.pid)]);
      expect(r.code).toBe(0);
      const id = Number(r.stdout);
      const name = `checkpoint-${id}`;
      expect(readdirSync(s.mnt)).toContain(name);
      expect(readlinkSync(join(s.mnt, 'latest'))).toBe(name);
      expect(readFileSync(join(s.mnt, 'latest', `task-${sleeper.pid}`, 'comm'), 'utf8')).toBe('sleep');
      expect((await cli(s.db, ['rm', String(id)])).code).toBe(0);
      expect(readdirSync(s.mnt)).not.toContain(name);
      expect(readlinkSync(join(s.mnt, 'latest'))).not.toBe(name);
      // a name looked up before lives in the kernel's cache for a second at most
      await until(() => !existsSync(join(s.mnt, name)), 3000, `${name} to go`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('gives every reader the right bytes when 8 cats read many files at once, each in its own order', async () => {
    const mnt = join(s.dir, 'mnt-parallel');
    mkdirSync(mnt);
    await startMount(s.db, mnt);
    const live = `checkpoint-${s.live}`;
    const files = [...entries(join(s.exported, live))].filter(([, what]) => what.startsWith('file')).map(([p]) => join(live, p));
    if (s.criu) for (const f of readdirSync(s.criu.dump)) files.push(join(`checkpoint-${s.criu.id}`, 'criu', 'files', f));
    const expected = (order: string[]) => {
      const h = createHash('sha256');
      for (const f of order) h.update(readFileSync(f.includes('/criu/files/') ? join(s.criu!.dump, f.split('/').at(-1)!) : join(s.exported, f)));
      return h.digest('hex');
    };
    const orders = Array.from({ length: 8 }, (_, i) => [...files].sort((a, b) => hashOf(`${i}${a}`).localeCompare(hashOf(`${i}${b}`))));
    const outputs = await Promise.all(orders.map((order) => new Promise<string>((res, rej) => {
      const cat = spawn('cat', order, { cwd: mnt, stdio: ['ignore', 'pipe', 'inherit'] });
      const h = createHash('sha256');
      cat.stdout.on('data', (d: Buffer) => h.update(d));
      cat.on('error', rej);
      cat.on('close', (code) => (code === 0 ? res(h.digest('hex')) : rej(new Error(`cat exited ${code}`))));
    })));
    expect(files.length).toBeGreaterThan(300);
    expect(outputs).toEqual(orders.map(expected));
  });

  it('lists every folder whole when four readers walk a fresh mount at once, in pieces of a few entries', async () => {
    const mnt = join(s.dir, 'mnt-walks');
    mkdirSync(mnt);
    await startMount(s.db, mnt);
    const live = `checkpoint-${s.live}`;
    // getdents64 with 1 KiB: a folder comes in many calls and requests (a reply holds a
    // page of entries with their attributes, about 25), each from where the one before ended.
    const walk = (root: string) => new Promise<string[]>((res, rej) => {
      const py = spawn('python3', [join(FIXTURES, 'list-small.py'), join(root, live), '1024'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      py.stdout.on('data', (d: Buffer) => (out += d.toString()));
      py.on('error', rej);
      py.on('close', (code) => (code === 0 ? res(out.split('\n').filter(Boolean).sort()) : rej(new Error(`list-small.py exited ${code}`))));
    });
    const largest = (dir: string): number => {
      const list = readdirSync(dir, { withFileTypes: true });
      return Math.max(list.length, ...list.filter((d) => d.isDirectory()).map((d) => largest(join(dir, d.name))));
    };
    expect(largest(join(s.exported, live))).toBeGreaterThan(64);
    const onDisk = await walk(s.exported);
    expect(onDisk.length).toBeGreaterThan(300);
    expect(await Promise.all([0, 1, 2, 3].map(() => walk(mnt)))).toEqual([onDisk, onDisk, onDisk, onDisk]);
  });

  it('unmounts on SIGTERM, and the server exits 0', async () => {
    const mnt = join(s.dir, 'mnt-term');
    mkdirSync(mnt);
    const server = await startMount(s.db, mnt);
    expect(fsType(mnt)).toBe('fuse.ckptdb');
    expect(readdirSync(mnt)).toContain(`checkpoint-${s.live}`);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(fsType(mnt)).toBe(null);
    expect(readdirSync(mnt)).toEqual([]);
  });

  it('leaves no mount behind when the server is killed with SIGKILL', async () => {
    const mnt = join(s.dir, 'mnt-kill');
    mkdirSync(mnt);
    const server = await startMount(s.db, mnt);
    expect(readFileSync(join(mnt, `checkpoint-${s.live}`, 'format'), 'utf8')).toBe('ckptdb-tree');
    server.child.kill('SIGKILL');
    await server.exited;
    await until(() => fsType(mnt) === null, 3000, 'the mount to go');
    expect(readdirSync(mnt)).toEqual([]);
  });

  it('mounts in the background, and ckptdb umount ends it; a busy mount is refused, and detached with --lazy', async () => {
    const mnt = join(s.dir, 'mnt-bg');
    mkdirSync(mnt);
    const r = await cli(s.db, ['mount', mnt]);
    expect(r.code).toBe(0);
    const pid = Number(/server pid (\d+)/.exec(r.stderr)?.[1]);
    expect(fsType(mnt)).toBe('fuse.ckptdb');
    // a process whose working directory is in the mount keeps it busy
    const inside = spawn('sleep', ['30'], { cwd: join(mnt, `checkpoint-${s.live}`), stdio: 'ignore' });
    try {
      await until(() => existsSync(`/proc/${inside.pid}/cwd/format`), 3000, 'sleep to start inside');
      const busy = await cli(s.db, ['umount', mnt]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toBe(`ckptdb: ${mnt} is busy: a process has a file or its working directory in it (close them, or detach it now with \`ckptdb umount --lazy\`)\n`);
      const lazy = await cli(s.db, ['umount', '--lazy', mnt]);
      expect(lazy).toMatchObject({ code: 0, stderr: `unmounted ${mnt}\n` });
      expect(fsType(mnt)).toBe(null);
      // detached, it serves what is still open in it until that lets go
      expect(readFileSync(`/proc/${inside.pid}/cwd/format`, 'utf8')).toBe('ckptdb-tree');
    } finally {
      inside.kill('SIGKILL');
    }
    await until(() => !existsSync(`/proc/${pid}`), 5000, 'the server to end');
  });

  it('refuses with one line and status 2: a folder that is not empty, no store, a user who is not root, umount of no mount, a store it cannot serve', async () => {
    const full = join(s.dir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), '');
    expect(await cli(s.db, ['mount', full])).toMatchObject({ code: 2, stderr: `ckptdb: ${full} is not empty (1 entry): mount onto an empty folder\n` });
    const empty = join(s.dir, 'empty');
    mkdirSync(empty);
    const missing = join(s.dir, 'none.sqlite');
    const noStore = await cli(missing, ['mount', empty]);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toMatch(new RegExp(`^ckptdb: no store at ${missing}.*\\n$`));
    const nobody = await runCli(['mount', empty, '--foreground'], { db: missing, command: cliAs(['--reuid', NOBODY, '--regid', NOBODY]) });
    const mode = statSync('/dev/fuse').mode & 0o777;
    expect(nobody).toMatchObject({
      code: 2,
      // where others may open /dev/fuse, mount(2) is what refuses
      stderr: (mode & 0o006) === 0o006
        ? `ckptdb: cannot mount ${empty}: mounting needs root (CAP_SYS_ADMIN) (run ckptdb mount as root)\n`
        : `ckptdb: cannot open /dev/fuse: permission denied; mounting needs root here (/dev/fuse is 0${mode.toString(8)}) (run ckptdb mount as root)\n`,
    });
    expect(await cli(s.db, ['umount', empty])).toMatchObject({ code: 2, stderr: `ckptdb: ${empty} is not a mount point\n` });
    // a store the serving thread cannot read is found before anything is mounted
    const broken = join(s.dir, 'broken.sqlite');
    copyFileSync(s.db, broken);
    execFileSync('sqlite3', [broken, 'DROP TABLE file_ttys']);
    expect(await cli(broken, ['mount', empty])).toMatchObject({ code: 2, stderr: `ckptdb: cannot serve ${broken} at ${empty}: no such table: file_ttys\n` });
    expect(fsType(full)).toBe(null);
    expect(fsType(empty)).toBe(null);
  });

  it('mountStore serves a store from the library, and unmount() ends it', async () => {
    // The built library: its serving threads run compiled modules.
    const built = new URL('../dist/index.js', import.meta.url).href;
    const { mountStore } = (await import(built)) as typeof import('../src/index.js');
    const mnt = join(s.dir, 'mnt-lib');
    mkdirSync(mnt);
    const handle = await mountStore(s.db, mnt);
    try {
      expect(handle.mountpoint).toBe(mnt);
      expect(readFileSync(join(mnt, `checkpoint-${s.live}`, 'source'), 'utf8')).toBe('proc');
    } finally {
      await handle.unmount();
    }
    await handle.closed;
    expect(fsType(mnt)).toBe(null);
  });
});

function hashOf(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}
