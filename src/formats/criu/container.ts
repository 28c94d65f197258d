/**
 * What a container checkpoint archive says about its container: config.dump (podman's
 * and CRI-O's container config) and spec.dump (the OCI runtime spec). Only names and
 * images go into the checkpoint's meta; the environment and mounts in the spec stay in
 * the stored file.
 */
import { CkptdbError } from '../../errors.js';

export interface ContainerMeta {
  id?: string;
  name?: string;
  image?: string;
  imageRef?: string;
  runtime?: string;
  createdTime?: string;
  hostname?: string;
  ociVersion?: string;
}

export function containerMeta(archive: string, files: Map<string, Buffer>): ContainerMeta {
  const config = parse(archive, 'config.dump', files.get('config.dump'));
  const spec = parse(archive, 'spec.dump', files.get('spec.dump'));
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const meta: ContainerMeta = {
    id: text(config.id),
    name: text(config.name),
    image: text(config.rootfsImageName) ?? text(config.rootfsImage),
    imageRef: text(config.rootfsImageRef),
    runtime: text(config.OCIRuntime) ?? text(config.runtime),
    createdTime: text(config.createdTime),
    hostname: text(spec.hostname),
    ociVersion: text(spec.ociVersion),
  };
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as ContainerMeta;
}

function parse(archive: string, name: string, bytes: Buffer | undefined): Record<string, unknown> {
  if (bytes === undefined) throw new CkptdbError('BAD_IMAGE', `${archive}: no ${name}; a container checkpoint archive has one beside checkpoint/`);
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below, with the file's name
  }
  throw new CkptdbError('BAD_IMAGE', `${archive}:${name}: not a JSON object`);
}
