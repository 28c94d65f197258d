import type { Command } from 'commander';
import { parseId, say, withStore } from '../context.js';
import { abortOnSignals, afterDashes } from '../signals.js';

interface RestoreFlags {
  detach: boolean;
  tcpEstablished?: boolean;
  shellJob?: boolean;
  criu?: string;
}

const HELP = `
The checkpoint's CRIU images are written to a private scratch directory beside the
store (mode 0700), criu restore runs on them, and the directory is removed. The
restored tree's root pid is printed on stdout. By default criu leaves the tree running
on its own (criu restore -d); with --no-detach, ckptdb waits until the tree's root
exits (criu's own exit status says whether the restore worked, not how the tree ended).

Processes come back with their own pids: a restore fails while a pid is in use, and
says which. A checkpoint captured from /proc holds no memory and cannot be restored.
CRIU is found as for checkpoint. Arguments after -- go to criu restore as they are.

Examples:
  $ ckptdb restore 3
  $ ckptdb restore 3 --tcp-established
  $ ckptdb restore 3 --no-detach           the root pid, then waits for the tree
`;

export function register(program: Command): void {
  program
    .command('restore')
    .argument('<id>', 'the checkpoint to restore; after --, arguments for criu restore')
    .argument('[criu-args...]')
    .description('restore a checkpoint made by checkpoint (or imported from CRIU) into running processes')
    .option('--detach', 'leave the restored tree running on its own (the default)', true)
    .option('--no-detach', 'wait until the restored tree exits')
    .option('--tcp-established', 'restore established TCP connections (criu --tcp-established; needs iptables)')
    .option('--shell-job', 'the tree was dumped with --shell-job (criu --shell-job)')
    .option('--criu <path>', 'the criu binary (default: $CKPTDB_CRIU, then criu on PATH)')
    .addHelpText('after', HELP)
    .action(async (idArg: string, _rest: string[], flags: RestoreFlags, cmd: Command) => {
      const id = parseId(idArg);
      // the CRIU driver and image encoder load when a restore runs, not with --help
      const { restoreCheckpoint } = await import('../../checkpoint/restore.js');
      const controller = new AbortController();
      const release = abortOnSignals(controller, (sig) => `restore interrupted by ${sig}`);
      try {
        const r = await withStore(cmd, 'existing', (store) =>
          restoreCheckpoint(store, id, {
            detach: flags.detach,
            tcpEstablished: !!flags.tcpEstablished,
            shellJob: !!flags.shellJob,
            criu: flags.criu,
            criuArgs: afterDashes(cmd),
            signal: controller.signal,
            onRestored: flags.detach ? undefined : (pid) => process.stdout.write(`${pid}\n`),
          }),
        );
        if (flags.detach) {
          process.stdout.write(`${r.pid}\n`);
          say(`restored checkpoint ${id}: root pid ${r.pid}; ${(r.bytes / 1e6).toFixed(1)} MB of images written in ${r.exportSeconds.toFixed(2)} s, criu restore ${r.restoreSeconds.toFixed(2)} s`);
        } else {
          say(`restored checkpoint ${id}: root pid ${r.pid} ran until it ended`);
          if (r.exitCode) process.exitCode = r.exitCode;
        }
      } finally {
        release();
      }
    });
}
