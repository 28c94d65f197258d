import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/index.js';
import { exportCriu, importCriu, detectCriuSource } from '../src/formats/criu/index.js';
import { buildArchive, type Compression } from './helpers/criuArchive.js';
import { useFixture } from './helpers/useCriuFixture.js';
import { tempDir, tempStorePath } from './helpers/tmp.js';
import { CRIT, skipWithout } from './helpers/criuTools.js';

const fixtureDir = useFixture();

/** A container checkpoint archive of the fixture. */
const archiveOf = (compression: Compression, extra?: (root: string) => void) => buildArchive(fixtureDir(), compression, extra);

/** Every row of a checkpoint without its ids: what two imports of the same images must agree on. */
function content(store: Store, id: number): Record<string, unknown[]> {
  const q = (sql: string) => store.db.prepare(sql).all(id);
  return {
    tasks: q('SELECT pid, tgid, ppid, pgid, sid, state, comm, uid, gid, exe, cwd, root, sig_pending, sig_blocked, sig_ignored, sig_caught, attrs FROM tasks WHERE checkpoint_id = ? ORDER BY pid'),
    objects: q('SELECT kind, key, refcount FROM shared_objects WHERE checkpoint_id = ? ORDER BY kind, key'),
    files: q('SELECT o.key, f.type, f.path, f.pos, f.flags, f.mode, f.mnt_id FROM files f JOIN shared_objects o ON o.id = f.id WHERE f.checkpoint_id = ? ORDER BY o.key'),
    fds: q('SELECT t.key AS t, d.fd, d.cloexec, f.key AS f FROM fds d JOIN shared_objects t ON t.id = d.fdtable_id JOIN shared_objects f ON f.id = d.file_id WHERE d.checkpoint_id = ? ORDER BY t.key, d.fd'),
    maps: q('SELECT o.key, m.start_addr, m.end_addr, m.perms, m.pgoff, m.path FROM maps m JOIN shared_objects o ON o.id = m.mm_id WHERE m.checkpoint_id = ? ORDER BY o.key, m.start_addr'),
    sockets: q('SELECT o.key, s.family, s.sock_type, s.protocol, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino FROM sockets s JOIN shared_objects o ON o.id = s.object_id WHERE s.checkpoint_id = ? ORDER BY o.key'),
    images: q("SELECT name, kind, role, size FROM criu_images WHERE checkpoint_id = ? AND role <> 'container' ORDER BY name"),
  };
}

describe.skipIf(skipWithout(CRIT))('importCriu of a container checkpoint archive', () => {
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`reads a tar${compression === 'none' ? '' : ` compressed with ${compression}`} as a stream into the same rows as the directory`, async () => {
      const archive = archiveOf(compression);
      expect(detectCriuSource(archive)).toBe('archive');
      expect(detectCriuSource(fixtureDir())).toBe('directory');
      const store = openStore(tempStorePath());
      const fromDir = await importCriu(store, fixtureDir());
      const fromArchive = await importCriu(store, archive);
      expect(content(store, fromArchive.checkpointId)).toEqual(content(store, fromDir.checkpointId));
      expect(fromArchive.newBytes).toBeLessThan(fromDir.newBytes);

      const cp = store.getCheckpoint(fromArchive.checkpointId);
      expect(cp.label).toBe('web-1');
      const meta = JSON.parse(cp.meta!);
      expect(meta.container).toEqual({ id: 'c0ffee', name: 'web-1', image: 'docker.io/library/nginx:latest', runtime: 'crun', createdTime: '2024-05-01T10:00:00Z', hostname: 'web-1', ociVersion: '1.0.2' });
      expect(cp.meta).not.toContain('hunter2');
      const containerFiles = store.db.prepare("SELECT name, size FROM criu_images WHERE checkpoint_id = ? AND role = 'container' ORDER BY name").all(fromArchive.checkpointId);
      expect(containerFiles.map((f: any) => f.name)).toEqual(['config.dump', 'rootfs-diff.tar', 'spec.dump']);

      const out = join(tempDir(), 'out');
      const r = await exportCriu(store, fromArchive.checkpointId, out);
      expect(r.rebuilt).toEqual([]);
      execFileSync('diff', ['-r', fixtureDir(), out]);
      store.close();
    });
  }

  it('refuses an archive without config.dump, a cut compressed stream, and a tar of images without checkpoint/, writing nothing', async () => {
    const store = openStore(tempStorePath());
    const noConfig = archiveOf('none', (root) => rmSync(join(root, 'config.dump')));
    await expect(importCriu(store, noConfig)).rejects.toMatchObject({ code: 'BAD_IMAGE', message: `${noConfig}: no config.dump; a container checkpoint archive has one beside checkpoint/` });

    for (const [compression, message] of [['gzip', /gzip stream is broken: unexpected end of file$/], ['zstd', /zstd stream is broken: .*$/]] as const) {
      const whole = readFileSync(archiveOf(compression));
      const cut = join(tempDir(), `cut.tar.${compression === 'gzip' ? 'gz' : 'zst'}`);
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      const err = await importCriu(store, cut).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BAD_IMAGE' });
      expect((err as Error).message).toMatch(new RegExp(`^${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect((err as Error).message).toMatch(message);
    }

    const flat = join(tempDir(), 'flat.tar');
    execFileSync('tar', ['-C', fixtureDir(), '-cf', flat, '.']);
    await expect(importCriu(store, flat)).rejects.toMatchObject({ code: 'BAD_IMAGE', message: `${flat}:checkpoint/inventory.img: missing: a CRIU image directory starts with inventory.img at byte 0` });

    expect(store.listCheckpoints()).toEqual([]);
    expect(store.db.prepare('SELECT count(*) FROM criu_chunks').pluck().get()).toBe(0);
    store.close();
  });
});
