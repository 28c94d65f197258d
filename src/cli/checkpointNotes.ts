/**
 * What a checkpoint's meta says about how it was taken, as field/value rows for
 * `ckptdb show`: what was selected and left out, whether the kernel (kcmp) decided
 * the sharing, what a freeze held, and the warnings of the capture. Meta is JSON
 * that older versions and other sources wrote too, so every part is optional.
 */
import type { UnixSource } from '../capture/proc/sockets.js';
import { describeWarnings, noWarnings, plural, type CaptureWarnings } from '../capture/proc/warnings.js';
import type { Row } from './render.js';

/** The parts of a capture's meta that show reads (src/capture/proc/capture.ts writes them). */
interface CaptureMeta {
  capture?: { pids?: number[]; tree?: boolean; all?: boolean; withEnv?: boolean; skip?: string[] };
  warnings?: Partial<CaptureWarnings>;
  kcmp?: { used?: boolean; calls?: number; reason?: string };
  freeze?: { method?: string; cgroup?: string; stopped?: number; alreadyStopped?: number[]; heldMs?: number; sigstop?: { pid: number; reason: string }[] };
  sockets?: { unix?: UnixSource[] };
  criu?: { source?: string; path?: string; images?: number };
  /** A container checkpoint archive's container (src/formats/criu/container.ts). */
  container?: { id?: string; name?: string; image?: string; runtime?: string };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function selection(c: NonNullable<CaptureMeta['capture']>): string {
  if (c.all) return 'every process';
  const pids = c.pids ?? [];
  if (!c.tree) return pids.join(' ');
  return `${pids.join(' ')} and ${pids.length === 1 ? 'its' : 'their'} descendants`;
}

function kcmpNote(k: NonNullable<CaptureMeta['kcmp']>): string {
  // where kcmp is available but refused for some tasks, a warning counts the inferred objects
  if (k.used) return `available (${plural(k.calls ?? 0, 'call')})`;
  return `not available${k.reason ? ` (${k.reason})` : ''}: all sharing was inferred from evidence`;
}

/** How a freeze held the processes; captures made before methods were recorded used SIGSTOP. */
function freezeNote(f: NonNullable<CaptureMeta['freeze']>): string {
  const how = f.method === 'cgroup' ? `cgroup freezer (${f.cgroup ?? '?'})`
    : f.method === 'ptrace' ? 'ptrace (PTRACE_SEIZE, PTRACE_INTERRUPT)'
      : 'SIGSTOP';
  const already = f.alreadyStopped?.length ? `; already stopped before: ${f.alreadyStopped.join(' ')}` : '';
  return `${how}: held ${plural(f.stopped ?? 0, 'process', 'processes')} for ${f.heldMs ?? 0} ms${already}`;
}

/** The processes stopped with SIGSTOP because ptrace was refused for them: their parents saw them stop. */
function sigstopNotes(f: NonNullable<CaptureMeta['freeze']>): Row[] {
  if (f.method === 'sigstop' || !f.sigstop?.length) return [];
  return [{ field: 'freeze fallback', value: `SIGSTOP for ${f.sigstop.map((s) => `${s.pid} (${s.reason})`).join(', ')}` }];
}

/** How unix sockets were read: sock_diag (with peers) counted, each namespace read from /proc/net/unix named. */
function unixNotes(sources: UnixSource[]): Row[] {
  const rows: Row[] = [];
  const diag = sources.filter((s) => s.via === 'sock_diag').length;
  if (diag) rows.push({ field: 'unix sockets', value: `sock_diag in ${plural(diag, 'network namespace')}: peers recorded` });
  for (const s of sources) {
    if (s.via !== 'sock_diag') rows.push({ field: 'unix sockets', value: `/proc/net/unix in ${s.netns} (${s.reason}): peers unknown` });
  }
  return rows;
}

function containerNote(c: NonNullable<CaptureMeta['container']>): string {
  const about = [c.image, c.runtime].filter((v) => v !== undefined);
  return `${c.name ?? c.id ?? '?'}${about.length ? ` (${about.join(', ')})` : ''}`;
}

export function checkpointNotes(meta: unknown): Row[] {
  if (!isObject(meta)) return [];
  const m = meta as CaptureMeta;
  const rows: Row[] = [];
  if (isObject(m.criu)) {
    rows.push({ field: 'imported from', value: `CRIU ${m.criu.source ?? 'images'} ${m.criu.path ?? ''}`.trimEnd() });
  }
  if (isObject(m.container)) rows.push({ field: 'container', value: containerNote(m.container) });
  if (isObject(m.capture)) {
    rows.push({ field: 'captured', value: selection(m.capture) });
    if (m.capture.skip?.length) rows.push({ field: 'left out', value: m.capture.skip.join(', ') });
    rows.push({ field: 'environments', value: m.capture.withEnv ? 'recorded' : 'not recorded' });
  }
  if (isObject(m.kcmp)) rows.push({ field: 'kcmp', value: kcmpNote(m.kcmp) });
  if (isObject(m.freeze)) rows.push({ field: 'freeze', value: freezeNote(m.freeze) }, ...sigstopNotes(m.freeze));
  if (isObject(m.sockets) && Array.isArray(m.sockets.unix)) rows.push(...unixNotes(m.sockets.unix));
  if (isObject(m.warnings)) {
    const lines = describeWarnings({ ...noWarnings(), ...m.warnings });
    if (lines.length === 0) rows.push({ field: 'warnings', value: 'none' });
    for (const line of lines) rows.push({ field: 'warning', value: line });
  }
  return rows;
}
