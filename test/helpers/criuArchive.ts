import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export const CONTAINER_CONFIG = { id: 'c0ffee', name: 'web-1', rootfsImageName: 'docker.io/library/nginx:latest', OCIRuntime: 'crun', createdTime: '2024-05-01T10:00:00Z' };
export const CONTAINER_SPEC = { ociVersion: '1.0.2', hostname: 'web-1', process: { env: ['SECRET=hunter2'] } };

export type Compression = 'none' | 'gzip' | 'zstd';

/**
 * A container checkpoint archive as podman writes one: the image directory as
 * checkpoint/ beside config.dump, spec.dump and rootfs-diff.tar, tarred by tar(1) and
 * compressed by gzip(1) or zstd(1). `extra` may change the tree before it is tarred.
 */
export function buildArchive(imageDir: string, compression: Compression, extra: (root: string) => void = () => {}): string {
  const root = tempDir();
  cpSync(imageDir, join(root, 'checkpoint'), { recursive: true });
  writeFileSync(join(root, 'config.dump'), JSON.stringify(CONTAINER_CONFIG));
  writeFileSync(join(root, 'spec.dump'), JSON.stringify(CONTAINER_SPEC));
  mkdirSync(join(root, 'rootfs'));
  writeFileSync(join(root, 'rootfs', 'etc-hostname'), 'web-1\n');
  execFileSync('tar', ['-C', join(root, 'rootfs'), '-cf', join(root, 'rootfs-diff.tar'), '.']);
  rmSync(join(root, 'rootfs'), { recursive: true });
  extra(root);
  const tar = join(tempDir(), 'web-1.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  if (compression === 'none') return tar;
  execFileSync(compression, ['-q', tar]);
  return `${tar}.${compression === 'gzip' ? 'gz' : 'zst'}`;
}
