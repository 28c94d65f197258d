/**
 * Where a serving thread's time goes, counted when CKPTDB_MOUNT_STATS is set: requests
 * by opcode, the time spent answering each kind, the part of it spent writing replies
 * (the kernel hands the reply to the waiting reader there, and often runs it before
 * the write returns), and the time from a reply to the next request (the reader and
 * the kernel). What a mount costs is mostly round trips; this tells how many and how long.
 */
import { OP } from './protocol.js';

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([name, n]) => [n, name]));

export class RequestStats {
  private readonly byOp = new Map<number, { n: number; ms: number }>();
  private writeMs = 0;
  private betweenMs = 0;
  private lastReply = 0;
  private started = 0;
  private opcode = 0;

  begin(opcode: number): void {
    this.started = performance.now();
    // A pause longer than a reader's next step is the server waiting for work, not a round trip.
    if (this.lastReply !== 0 && this.started - this.lastReply < 50) this.betweenMs += this.started - this.lastReply;
    this.opcode = opcode;
  }

  end(): void {
    this.lastReply = performance.now();
    const s = this.byOp.get(this.opcode) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += this.lastReply - this.started;
    this.byOp.set(this.opcode, s);
  }

  wrote(ms: number): void {
    this.writeMs += ms;
  }

  /** One line per opcode, then the totals. */
  report(): string {
    const lines = [...this.byOp].sort((a, b) => b[1].n - a[1].n).map(([op, s]) =>
      `${(OP_NAMES.get(op) ?? `opcode ${op}`).padEnd(12)} ${String(s.n).padStart(9)} requests ${s.ms.toFixed(0).padStart(7)} ms ${((s.ms * 1000) / s.n).toFixed(1).padStart(7)} µs each`);
    const n = [...this.byOp.values()].reduce((t, s) => t + s.n, 0);
    const ms = [...this.byOp.values()].reduce((t, s) => t + s.ms, 0);
    lines.push(`answering ${ms.toFixed(0)} ms (writing replies ${this.writeMs.toFixed(0)} ms), reader and kernel between a reply and the next request ${this.betweenMs.toFixed(0)} ms; ${n} requests`);
    return lines.join('\n');
  }
}
