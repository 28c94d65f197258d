#!/usr/bin/env node
import { CommanderError } from 'commander';
import { isCkptdbError } from '../errors.js';
import { buildProgram } from './program.js';

/** The only place where an error becomes a line on stderr and an exit status. */
async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message already; help and version are not errors
      return e.exitCode === 0 ? 0 : 2;
    }
    if (process.env.CKPTDB_DEBUG === '1') process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    if (isCkptdbError(e)) {
      process.stderr.write(`ckptdb: ${e.message}${e.hint ? ` (${e.hint})` : ''}\n`);
    } else {
      process.stderr.write(`ckptdb: ${(e as Error).message ?? String(e)}\n`);
    }
    return 2;
  }
}

// A reader that stops early (`ckptdb ps | head`) is not an error, whatever was being
// written: help, a summary or rows.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

let finished = false;
main(process.argv).then((code) => {
  finished = true;
  process.exitCode = code;
});

// Nothing left to run, and main never finished: something it waited on was dropped (a
// connection that ended without a word). That is an error, not a success.
process.on('beforeExit', () => {
  if (finished) return;
  finished = true;
  process.stderr.write('ckptdb: stopped before finishing: a connection ended while ckptdb waited on it\n');
  process.exitCode = 2;
});
