/**
 * The restore-order rules of an image, checked from the outside (independently of the
 * reader's own checker): records whose references all point back, ids numbered in the
 * order of definition, parents before children, refcounts equal to the references.
 */
export function restoreOrderViolations(records: Record<string, unknown>[]): string[] {
  const problems: string[] = [];
  const defined = new Map<number, { kind: string; refcount: number }>();
  const counted = new Map<number, number>();
  const pids = new Set<number>();
  const allPids = new Set(records.filter((r) => r.record === 'task').map((r) => r.pid as number));
  const refer = (i: number, id: unknown, counts: boolean) => {
    if (id === null) return;
    if (!defined.has(id as number)) problems.push(`record ${i} refers to ${String(id)} before it is defined`);
    if (counts) counted.set(id as number, (counted.get(id as number) ?? 0) + 1);
  };
  records.forEach((r, i) => {
    if (i === 0 && r.record !== 'checkpoint') problems.push('the first record is not the checkpoint');
    switch (r.record) {
      case 'object':
      case 'file':
        if (r.id !== defined.size + 1) problems.push(`record ${i} defines ${String(r.id)}, expected ${defined.size + 1}`);
        if (r.record === 'file') refer(i, r.object, true);
        defined.set(r.id as number, { kind: r.record === 'file' ? 'file' : (r.kind as string), refcount: r.refcount as number });
        break;
      case 'task': {
        const leader = r.pid !== r.tgid && allPids.has(r.tgid as number) ? (r.tgid as number) : null;
        const parent = leader ?? (allPids.has(r.ppid as number) ? (r.ppid as number) : null);
        if (parent !== null && !pids.has(parent)) problems.push(`task ${String(r.pid)} comes before its parent ${parent}`);
        pids.add(r.pid as number);
        for (const f of ['mm', 'fdtable', 'fs', 'sighand']) refer(i, r[f], true);
        for (const id of Object.values(r.namespaces as Record<string, number>)) refer(i, id, true);
        break;
      }
      case 'fd':
        refer(i, r.fdtable, false);
        refer(i, r.file, true);
        break;
      case 'map':
        refer(i, r.mm, false);
        break;
    }
  });
  for (const [id, o] of defined) {
    if ((counted.get(id) ?? 0) !== o.refcount) problems.push(`object ${id} has refcount ${o.refcount} but ${counted.get(id) ?? 0} references`);
  }
  return problems;
}
