import type { Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import type { CheckpointProgress } from '../../checkpoint/types.js';
import { say, withStore } from '../context.js';
import { abortOnSignals, afterDashes, parsePid } from '../signals.js';

interface CheckpointFlags {
  tree?: boolean;
  kill?: boolean;
  leaveRunning?: boolean;
  tcpEstablished?: boolean;
  shellJob?: boolean;
  label?: string;
  criu?: string;
  withEnv?: boolean;
}

const HELP = `
criu dump runs on the tree into a private scratch directory beside the store (mode
0700), the dump is imported as one new checkpoint in one transaction, and the
directory is removed on every way out: success, failure, Ctrl-C. Memory pages are
stored in content-addressed 4 KiB chunks shared with every earlier checkpoint, so a
second checkpoint of the same processes stores only the pages that changed.

CRIU is the one --criu names, else $CKPTDB_CRIU, else criu on PATH; it must be 4.0 or
newer. criu always dumps a process with all its descendants: a root with children
needs --tree. Arguments after -- go to criu dump as they are.

A failed dump prints CRIU's first error line and where its log was kept, and writes
nothing. Ctrl-C lets a running criu finish (a criu stopped half-way can leave the
processes stopped), then writes nothing.

The new checkpoint's id is printed alone on stdout, as capture does.

Examples:
  $ ckptdb checkpoint 1234 --tree                  dump 1234 and its descendants, leave them running
  $ ckptdb checkpoint 1234 --tree --kill           dump them, then end them
  $ ckptdb checkpoint 4321 --tcp-established --label before-upgrade
  $ ckptdb checkpoint 1234 -- --ext-unix-sk        a criu option ckptdb does not know
  $ id=$(ckptdb checkpoint 1234 --tree) && ckptdb restore "$id"
`;

const MIB = 2 ** 20;
/** Dumps smaller than this are imported before a bar would be worth drawing. */
const BAR_FROM = 64 * MIB;

async function progressBar(): Promise<{ update(p: CheckpointProgress): void; stop(): void }> {
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'checkpoint: storing pages [{bar}] {percentage}% {value}/{total} MiB',
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(p) {
      if (p.phase !== 'import' || p.total < BAR_FROM) return;
      const done = Math.floor(p.done / MIB);
      if (!started) bar.start(Math.ceil(p.total / MIB), done);
      started = true;
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

export function register(program: Command): void {
  program
    .command('checkpoint')
    .argument('<pid...>', 'the root of the process tree to dump (more PIDs must be in its tree); after --, arguments for criu dump')
    .description('checkpoint a live process tree with criu dump into the store, restorable by id')
    .option('--tree', 'the tree of the PID, descendants included (criu dumps them in any case: required when there are some)')
    .option('--leave-running', 'leave the tree running after the dump (the default)')
    .option('--kill', 'end the tree once it is dumped, as criu dump does without --leave-running')
    .option('--tcp-established', 'dump established TCP connections (criu --tcp-established; needs iptables)')
    .option('--shell-job', 'the tree belongs to a session or terminal it did not start (criu --shell-job)')
    .option('--label <text>', 'a label for the checkpoint, shown by list and show')
    .option('--criu <path>', 'the criu binary (default: $CKPTDB_CRIU, then criu on PATH)')
    .option('--with-env', "also record each process's environment from its memory (off by default: environments often hold secrets)")
    .addHelpText('after', HELP)
    .action(async (args: string[], flags: CheckpointFlags, cmd: Command) => {
      const criuArgs = afterDashes(cmd);
      const pids = args.slice(0, args.length - criuArgs.length).map(parsePid);
      if (flags.kill && flags.leaveRunning) throw new CkptdbError('BAD_ARGUMENT', '--kill and --leave-running contradict each other: give one');
      // the CRIU driver and decoder load when a checkpoint is taken, not with --help
      const { checkpointProcesses } = await import('../../checkpoint/checkpoint.js');
      const controller = new AbortController();
      const release = abortOnSignals(controller, (sig) => `checkpoint interrupted by ${sig}: nothing was written to the store`);
      const bar = process.stderr.isTTY ? await progressBar() : null;
      try {
        const r = await withStore(cmd, 'create', (store) =>
          checkpointProcesses(store, {
            pids,
            tree: !!flags.tree,
            kill: !!flags.kill,
            tcpEstablished: !!flags.tcpEstablished,
            shellJob: !!flags.shellJob,
            label: flags.label ?? null,
            criu: flags.criu,
            criuArgs,
            withEnv: !!flags.withEnv,
            signal: controller.signal,
            onProgress: bar ? (p) => bar.update(p) : undefined,
          }),
        );
        bar?.stop();
        process.stdout.write(`${r.checkpointId}\n`);
        const mb = (n: number) => (n / 1e6).toFixed(1);
        say(
          `checkpoint ${r.checkpointId}: process ${r.pid} and its tree, ${r.counts.tasks} tasks, ${r.counts.fds} fds, ${r.counts.maps} maps; ${mb(r.bytes)} MB dumped by criu ${r.criu.version} in ${r.dumpSeconds.toFixed(2)} s, ` +
            `stored in ${r.importSeconds.toFixed(2)} s (${mb(r.newBytes)} MB new to the store)${flags.kill ? '; the tree was ended' : ''}`,
        );
      } finally {
        bar?.stop();
        release();
      }
    });
}
