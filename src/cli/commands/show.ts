import type { Command } from 'commander';
import { criuStorageSummary, type CriuStorageSummary } from '../../formats/criu/summary.js';
import { checkpointNotes } from '../checkpointNotes.js';
import { addFormatOptions, formatOf, parseId } from '../context.js';
import { jsonValue, renderRows, type Row } from '../render.js';
import { withQuerySession } from '../session.js';

const HELP = `
Rows: id, label, source (proc, import, criu), host, kernel, root pid, frozen (yes when
the tree was held still for a consistent capture), start and finish times; for a
capture what it took (the pids, with --tree their descendants) and left out, whether
environments were recorded, whether the kernel's kcmp decided what is shared (else
sharing was inferred from evidence), what --freeze held, and its warnings: tasks
and fds that vanished while being read, entries it was not allowed to read. Then
the row counts per table, the tasks per state (running, sleeping, stopped, zombie,
...; for a frozen capture the states from before the freeze), and per kind of shared
object how many there are, how many are shared (refcount above 1) and how many
references they have.

A checkpoint imported from CRIU says where from (and the container, for an archive)
and what it keeps of CRIU's files: how many, per role (modelled: decoded into the
tables too; stored: a CRIU image kept as it is; raw: pages and other images without
magic; other: the rest of the directory; container: the archive's files beside
checkpoint/), their bytes, the distinct 4 KiB chunks they are made of, and how many
of those chunks other checkpoints hold too (what deleting this one would not free).
The files one by one: ckptdb query "SELECT name, kind, role, size FROM criu_images
WHERE checkpoint_id = ID".

--json gives one object: the checkpoint's columns, meta as stored (the capture's
warnings, kcmp, timings, freeze), counts, states (state, state_text, tasks) and
objects, and criu for a CRIU checkpoint.

Examples:
  $ ckptdb show               the newest checkpoint
  $ ckptdb show 3
  $ ckptdb show 3 --json | jq .meta.warnings
`;

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('show')
      .argument('[id]', 'checkpoint id; default: the newest')
      .description('summarise a checkpoint: how, where and when it was taken, its warnings, and how many of each object it holds')
      .addHelpText('after', HELP),
  ).action(async (id: string | undefined, _opts, cmd: Command) => {
    const format = formatOf(cmd);
    await withQuerySession(cmd, async (session) => {
      const d = session.describe(id === undefined ? undefined : parseId(id));
      const meta = d.meta ? (JSON.parse(d.meta) as unknown) : null;
      const criu = d.source === 'criu' ? criuStorageSummary(session, d.id) : null;
      if (format === 'json') {
        process.stdout.write(jsonValue({ ...d, frozen: d.frozen === 1, meta, ...(criu ? { criu } : {}) }, 2) + '\n');
        return;
      }
      const rows: Row[] = [
        { field: 'id', value: d.id },
        { field: 'label', value: d.label },
        { field: 'source', value: d.source },
        { field: 'host', value: d.host },
        { field: 'kernel', value: d.kernel },
        { field: 'root pid', value: d.root_pid },
        { field: 'frozen', value: d.frozen ? 'yes' : 'no' },
        { field: 'started', value: d.started_at },
        { field: 'finished', value: d.finished_at },
        ...checkpointNotes(meta),
        ...Object.entries(d.counts).map(([k, n]) => ({ field: k, value: n })),
        ...(d.states.length ? [{ field: 'task states', value: d.states.map((s) => `${s.tasks} ${s.state_text ?? 'unknown'}`).join(', ') }] : []),
        ...d.objects.map((o) => ({ field: `objects: ${o.kind}`, value: `${o.n} (${o.shared} shared, ${o.refs} refs)` })),
        ...(criu ? criuRows(criu) : []),
      ];
      await renderRows(rows, { format, columns: ['field', 'value'] });
    });
  });
}

function criuRows(s: CriuStorageSummary): Row[] {
  return [
    { field: 'criu files', value: `${s.files} (${s.roles.map((r) => `${r.files} ${r.role}`).join(', ')})` },
    { field: 'criu bytes', value: `${s.bytes} in the files, ${s.chunkBytes} in ${s.chunks} distinct chunks` },
    { field: 'criu shared', value: `${s.sharedChunks} chunks (${s.sharedBytes} bytes) held by other checkpoints too; ${s.chunkBytes - s.sharedBytes} bytes by this one alone` },
  ];
}
