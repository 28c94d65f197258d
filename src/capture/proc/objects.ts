/** Shared objects are added once: a local cache of ids by kind and key spares the writer repeated inserts. */
import type { CheckpointWriter } from '../../store/writer/writer.js';
import type { SharedObjectInput } from '../../store/writer/types.js';
import type { TaskObject } from './tasks.js';
import type { CaptureWarnings } from './warnings.js';

export class ObjectIds {
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly writer: CheckpointWriter,
    private readonly warnings: CaptureWarnings,
  ) {}

  get(kind: SharedObjectInput['kind'], key: string, inferred = false): number {
    const k = `${kind}\0${key}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.writer.addSharedObject({ kind, key, inferred });
      this.ids.set(k, id);
      if (inferred) this.warnings.inferredObjects++;
    }
    return id;
  }

  /** The object a task refers to, written on first use. */
  task(o: TaskObject | null): number | null {
    if (!o) return null;
    o.id ??= this.get(o.kind, o.key, o.inferred);
    return o.id;
  }
}
