/**
 * What a dump directory says of the dump itself: the host and kernel it ran on, from a
 * utsns-N.img (when CRIU dumped the uts namespace) or the first lines of CRIU's log
 * ("Running on HOST Linux RELEASE ..."), which is taken only when its run id is the one
 * inventory.img records; and stats-dump's figures of the run.
 */
import { isFieldSet } from '@bufbuild/protobuf';
import { stats_entrySchema, utsns_entrySchema } from '../gen/stats_pb.js';
import { inventory_entrySchema, type inventory_entry } from '../gen/inventory_pb.js';
import type { ImportContext } from './context.js';

export interface DumpRun {
  host: string | null;
  kernel: string | null;
  /** CRIU's id of the dump run. */
  runId: string | null;
  /** stats-dump: times (µs) and page counts of the run. */
  stats: Record<string, number> | null;
}

/** Images read for this: kept as they are. */
export const DUMP_RUN_IMAGES = /^stats-dump$|^utsns-\d+\.img$/;

/** The head of a CRIU log: its run id and where it ran. */
export function parseLogHead(text: string): { runId: string; host: string; kernel: string } | null {
  const id = /^\(\d+\.\d+\) CRIU run id = (\S+)$/m.exec(text);
  const on = /^\(\d+\.\d+\) Running on (\S+) \S+ (\S+) /m.exec(text);
  return id && on ? { runId: id[1]!, host: on[1]!, kernel: on[2]! } : null;
}

export function readDumpRun(ctx: ImportContext, inventory: inventory_entry, logs: string[]): DumpRun {
  const runId = isFieldSet(inventory, inventory_entrySchema.field.dumpCriuRunId) ? inventory.dumpCriuRunId : null;
  const log = runId === null ? null : logs.map(parseLogHead).find((l) => l?.runId === runId) ?? null;
  const uts = [...ctx.images.keys()].filter((n) => /^utsns-\d+\.img$/.test(n)).sort()[0];
  const nodename = uts ? ctx.decodeOne(uts, utsns_entrySchema)?.msg.nodename ?? null : null;
  const stats = ctx.decodeOne('stats-dump', stats_entrySchema)?.msg.dump;
  return {
    host: nodename ?? log?.host ?? null,
    kernel: log?.kernel ?? null,
    runId,
    stats: stats
      ? Object.fromEntries(stats_entrySchema.field.dump!.message!.fields.filter((f) => isFieldSet(stats, f)).map((f) => [f.name, Number((stats as Record<string, unknown>)[f.localName])]))
      : null,
  };
}
