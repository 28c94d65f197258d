import { Option, type Command } from 'commander';
import { CkptdbError } from '../../errors.js';
import { FREEZE_METHODS, type FreezeMethod } from '../../capture/freezeMethods.js';
import { CAPTURE_PARTS, parseParts, type CaptureProgress, type CaptureResult } from '../../capture/proc/options.js';
import { checkSelection } from '../../capture/proc/processes.js';
import { describeWarnings, plural } from '../../capture/proc/warnings.js';
import { say, withStore } from '../context.js';

interface CaptureFlags {
  tree?: boolean;
  all?: boolean;
  freeze?: boolean;
  freezeWith?: FreezeMethod;
  label?: string;
  withEnv?: boolean;
  skip: string[];
}

const HELP = `
What is read, per task (every thread): pid, tgid, ppid, pgid, sid, state, comm, uids
and gids, command line, exe, cwd, root, start time, signal masks, namespaces, resource
limits; per process its fds and memory map; per open file its type, path, position,
flags, mode, mount id and inode. Sockets are described per network namespace: unix
sockets by sock_diag, with their peers (where the namespace cannot be entered, from
/proc/net/unix, peers unknown, with a warning), inet, netlink and packet sockets by
/proc/net. Which fds share one open file, and which tasks share an address space, fd
table, fs info or signal handlers, is asked of the kernel (kcmp); where it cannot be
asked the sharing is guessed from evidence and marked inferred.

A task or fd that vanishes while being read is skipped and counted in a warning; an
entry the kernel will not show (permission) is recorded as unreadable with the reason.

--freeze holds the processes still while they are read, leaving no trace in them or
their parents: with the cgroup v2 freezer where they are alone in a cgroup of their
own, else with ptrace (PTRACE_SEIZE and PTRACE_INTERRUPT of every thread, as CRIU
does). Each task's state is stored as it was before the freeze. Only a process that
ptrace is refused for (another tracer holds it) is stopped with SIGSTOP instead, which
its parent sees (a shell prints "Stopped"): a warning names it, and so does show.
Every process held is let go on every way out, Ctrl-C and errors included.
--freeze-with cgroup|ptrace|sigstop uses that method for every process, or fails.

Parts for --skip: ${CAPTURE_PARTS.join(', ')} (threads: only each process's main thread).

The new checkpoint's id is printed alone on stdout; messages go to stderr.

Examples:
  $ ckptdb capture $$ --tree                 this shell and everything it runs
  $ ckptdb capture 1234 --freeze --label before-upgrade
  $ ckptdb capture --all --skip maps,env     every process, without memory maps
  $ id=$(ckptdb capture $$ --tree) && ckptdb show "$id"
`;

function parsePid(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
    throw new CkptdbError('BAD_ARGUMENT', `PID '${value}' is not a positive integer`);
  }
  return Number(value);
}

/** Ctrl-C and kill end the capture cleanly: nothing written, frozen processes resumed. */
function abortOnSignals(controller: AbortController): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((sig) => {
    const fn = () => {
      // a second signal while the first is being handled: leave now (the exit hook resumes processes)
      if (controller.signal.aborted) process.exit(2);
      controller.abort(new CkptdbError('INTERRUPTED', `capture interrupted by ${sig}: nothing was written`));
    };
    process.on(sig, fn);
    return [sig, fn] as const;
  });
  return () => {
    for (const [sig, fn] of handlers) process.off(sig, fn);
  };
}

/** A progress bar on a terminal (its library loaded only then). */
async function progressBar(): Promise<{ update(p: CaptureProgress): void; stop(): void }> {
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'capturing {phase} [{bar}] {value}/{total}',
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(p) {
      if (!started) bar.start(p.total, p.done, { phase: p.phase });
      started = true;
      bar.setTotal(p.total);
      bar.update(p.done, { phase: p.phase });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

const METHOD_NAMES: Record<FreezeMethod, string> = { cgroup: 'the cgroup freezer', ptrace: 'ptrace', sigstop: 'SIGSTOP' };

function summary(r: CaptureResult): string {
  const c = r.counts;
  const parts = [
    plural(c.processes, 'process', 'processes'), plural(c.tasks, 'task'), plural(c.fds, 'fd'), plural(c.files, 'file'), plural(c.maps, 'map'), plural(c.sockets, 'socket'),
  ];
  return `checkpoint ${r.checkpointId}: ${parts.join(', ')} in ${r.seconds.toFixed(2)} s`;
}

export function register(program: Command): void {
  program
    .command('capture')
    .argument('[pid...]', 'processes to capture, with all their threads')
    .description('capture live processes from /proc into a new checkpoint')
    .option('--tree', 'also capture every descendant of the PIDs (never ckptdb itself)')
    .option('--all', 'capture every process on the machine except ckptdb itself')
    .option('--freeze', 'hold the processes still while they are read (cgroup freezer or ptrace), then let exactly those run again')
    .addOption(new Option('--freeze-with <method>', 'freeze with this method only (implies --freeze)').choices(FREEZE_METHODS))
    .option('--label <text>', 'a label for the checkpoint, shown by list and show')
    .option('--with-env', 'also record each process environment (off by default: environments often hold secrets)')
    .option('--skip <parts>', `leave parts out, comma-separated: ${CAPTURE_PARTS.join(', ')}`, (v: string, prev: string[]) => [...prev, v], [])
    .addHelpText('after', HELP)
    .action(async (pidArgs: string[], flags: CaptureFlags, cmd: Command) => {
      const pids = pidArgs.map(parsePid);
      const skip = parseParts(flags.skip);
      // nothing ckptdb starts belongs in a capture
      const selection = { pids, tree: !!flags.tree, all: !!flags.all, excludeOwnTree: true };
      // before the store is opened: a wrong PID leaves no trace, not even a new store file
      checkSelection(selection);
      // the capture (its /proc readers, kcmp, the store's writer) loads when one runs, not with --help
      const { captureProcesses } = await import('../../capture/proc/capture.js');
      const controller = new AbortController();
      const release = abortOnSignals(controller);
      // not while frozen: a stopped terminal emulator would block our writes to it
      const bar = process.stderr.isTTY && flags.all && !flags.freeze && !flags.freezeWith ? await progressBar() : null;
      try {
        const result = await withStore(cmd, 'create', (store) =>
          captureProcesses(store, {
            ...selection,
            freeze: !!flags.freeze || !!flags.freezeWith,
            freezeMethod: flags.freezeWith ?? 'auto',
            label: flags.label ?? null,
            withEnv: !!flags.withEnv,
            skip,
            signal: controller.signal,
            onProgress: bar ? (p) => bar.update(p) : undefined,
          }),
        );
        bar?.stop();
        process.stdout.write(`${result.checkpointId}\n`);
        say(summary(result));
        if (result.freezeMethod) {
          say(`froze ${plural(result.stopped, 'process', 'processes')} for ${Math.round(result.frozenMs)} ms with ${METHOD_NAMES[result.freezeMethod]}${result.frozen ? '' : ' (not all of them stopped)'}`);
        }
        if (result.sigstopped.length) {
          const why = [...new Set(result.sigstopped.map((s) => s.reason))].join('; ');
          say(`warning: --freeze stopped ${plural(result.sigstopped.length, 'process', 'processes')} with SIGSTOP (${why}): ${result.sigstopped.map((s) => s.pid).join(' ')}; their parents saw them stop`);
        }
        if (result.kcmpUnavailable) say(`warning: sharing was inferred: ${result.kcmpUnavailable}`);
        for (const line of describeWarnings(result.warnings)) say(`warning: ${line}`);
      } finally {
        bar?.stop();
        release();
      }
    });
}
