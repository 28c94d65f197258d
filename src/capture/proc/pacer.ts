/**
 * A capture reads /proc synchronously (fast) but must still notice Ctrl-C, let frozen
 * processes be resumed by signal handlers, and draw progress: every few milliseconds it
 * yields to the event loop, reports progress and stops if it was aborted.
 */
import type { CaptureProgress } from './options.js';

const EVERY_MS = 25;

export class Pacer {
  private last = performance.now();

  constructor(
    private readonly signal?: AbortSignal,
    private readonly onProgress?: (p: CaptureProgress) => void,
  ) {}

  async step(phase: CaptureProgress['phase'], done: number, total: number): Promise<void> {
    if (done < total && performance.now() - this.last < EVERY_MS) return;
    this.onProgress?.({ phase, done, total });
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.signal?.throwIfAborted();
    this.last = performance.now();
  }
}
