import type { Command } from 'commander';
import { CkptdbError } from '../errors.js';

export function parsePid(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
    throw new CkptdbError('BAD_ARGUMENT', `PID '${value}' is not a positive integer`);
  }
  return Number(value);
}

/** The arguments after `--` on the command line: commander hands them over as operands. */
export function afterDashes(cmd: Command): string[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs: string[] }).rawArgs ?? [];
  const at = raw.indexOf('--');
  return at >= 0 ? raw.slice(at + 1) : [];
}

/**
 * Ctrl-C and kill end the command cleanly: the first signal aborts the work in hand with
 * the message given, a second one leaves at once.
 */
export function abortOnSignals(controller: AbortController, message: (sig: NodeJS.Signals) => string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((sig) => {
    const fn = () => {
      if (controller.signal.aborted) process.exit(2);
      controller.abort(new CkptdbError('INTERRUPTED', message(sig)));
    };
    process.on(sig, fn);
    return [sig, fn] as const;
  });
  return () => {
    for (const [sig, fn] of handlers) process.off(sig, fn);
  };
}
