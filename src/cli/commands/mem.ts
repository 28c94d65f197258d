import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { addFormatOptions, formatOf, parseId, say } from '../context.js';
import { renderRows } from '../render.js';
import { withCheckpointDb } from '../session.js';

interface MemFlags {
  pid?: string;
  dump?: string;
  out?: string;
  search?: string;
  hex?: string;
  context: string;
  limit: string;
}

const HELP = `
A process's memory as a CRIU checkpoint holds it (checkpoint and import keep every
dumped page). Without --dump or --search: its memory areas (maps), each with size (the
pages it spans) and pages (those the checkpoint holds; CRIU leaves out pages never
written and file pages that match the file).

--dump ADDR[:LEN] writes LEN bytes from ADDR (hex, 0x optional; LEN decimal or 0x hex;
default: to the end of the area) to --out FILE, or to stdout, as a hex dump on a
terminal. Pages the checkpoint does not hold read as zeroes, with a warning.

--search TEXT or --hex BYTES finds those bytes in the memory held, in address order,
across page boundaries: one row per match with its address, area and the bytes
around it (printable ASCII, the rest as dots).

On a PostgreSQL store (--db postgres://...) the checkpoint is first read into a
scratch store of its own; its pages must have been pushed (push --with-pages).

Examples:
  $ ckptdb mem 4 --pid 1234
  $ ckptdb mem 4 --pid 1234 --search 'password='
  $ ckptdb mem 4 --pid 1234 --hex 'de ad be ef' --json
  $ ckptdb mem 4 --pid 1234 --dump 0x7f1c2a000000:4096 --out page.bin
`;

function parseAddress(text: string): bigint {
  if (!/^(0x)?[0-9a-f]{1,16}$/i.test(text)) throw new CkptdbError('BAD_ARGUMENT', `--dump: '${text}' is not an address (hex)`);
  return BigInt(text.toLowerCase().startsWith('0x') ? text : `0x${text}`);
}

function parseLength(text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number(BigInt(text)) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new CkptdbError('BAD_ARGUMENT', `--dump: length '${text}' is not a positive number`);
  return n;
}

function parseHex(text: string): Buffer {
  const digits = text.replace(/[\s:]/g, '').replace(/^0x/i, '');
  if (!/^([0-9a-f]{2})+$/i.test(digits)) throw new CkptdbError('BAD_ARGUMENT', `--hex: '${text}' is not bytes in hex (like 'de ad be ef')`);
  return Buffer.from(digits, 'hex');
}

function hexDump(bytes: Buffer, base: bigint): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(base + BigInt(at)).toString(16).padStart(16, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n') + '\n';
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

export function register(program: Command): void {
  addFormatOptions(
    program
      .command('mem')
      .argument('[id]', 'checkpoint id; default: the newest')
      .description("a process's memory in a checkpoint: its areas with their pages, bytes by address, a search")
      .option('--pid <pid>', 'the process (default: the only one whose memory the checkpoint holds)')
      .option('--dump <addr[:len]>', 'write the bytes from ADDR (to the end of its area, or LEN bytes)')
      .option('--out <file>', 'with --dump: write to this new file, not stdout')
      .option('--search <text>', 'find this text (UTF-8)')
      .option('--hex <bytes>', "find these bytes, in hex ('de ad be ef')")
      .option('--context <n>', 'with --search or --hex: bytes shown on each side', '24')
      .option('--limit <n>', 'with --search or --hex: at most this many matches', '1000')
      .addHelpText('after', HELP),
  ).action(async (idArg: string | undefined, flags: MemFlags, cmd: Command) => {
    const modes = [flags.dump !== undefined, flags.search !== undefined, flags.hex !== undefined].filter(Boolean).length;
    if (modes > 1) throw new CkptdbError('BAD_ARGUMENT', 'give one of --dump, --search and --hex');
    if (flags.out !== undefined && flags.dump === undefined) throw new CkptdbError('BAD_ARGUMENT', '--out goes with --dump');
    const format = formatOf(cmd);
    const { ProcessMemoryView } = await import('../../query/mem.js');
    await withCheckpointDb(cmd, idArg === undefined ? undefined : parseId(idArg), async (db, id) => {
      const pid = flags.pid === undefined ? ProcessMemoryView.onlyProcess(db, id) : parseId(flags.pid, 'pid');
      const mem = new ProcessMemoryView(db, id, pid);
      if (flags.dump !== undefined) {
        const [a, l] = flags.dump.split(':');
        const addr = parseAddress(a!);
        const { bytes, missing } = mem.read(addr, l === undefined ? undefined : parseLength(l));
        if (flags.out !== undefined) {
          const fd = openSync(flags.out, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
          try {
            writeAll(fd, bytes);
          } finally {
            closeSync(fd);
          }
        } else if (process.stdout.isTTY) {
          process.stdout.write(hexDump(bytes, addr));
        } else {
          await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve())));
        }
        if (missing.length) say(`warning: ${missing.length} page${missing.length === 1 ? '' : 's'} of the range (first at 0x${missing[0]!.toString(16)}) not held by the checkpoint, written as zeroes`);
        return;
      }
      if (flags.search !== undefined || flags.hex !== undefined) {
        const needle = flags.hex !== undefined ? parseHex(flags.hex) : Buffer.from(flags.search!, 'utf8');
        const hits = mem.search(needle, { context: parseLength(flags.context), limit: parseLength(flags.limit) });
        const n = await renderRows(hits, { format, columns: ['address', 'area', 'context'] });
        if (n === 0 && format === 'table') say('not found');
        return;
      }
      await renderRows(mem.areas(), { format, columns: ['start', 'end', 'perms', 'size', 'pages', 'path'] });
    });
  });
}
