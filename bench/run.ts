/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts, whose default export returns its
 * figures; they are printed as a table and as one JSON line for scripts to collect.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchModule } from './report.js';
import { printFigures } from './report.js';

// Runs compiled (dist-bench/bench/*.js), so that what is measured carries no transpiler.
const here = dirname(fileURLToPath(import.meta.url));
const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';
const available = readdirSync(here)
  .filter((f) => f.endsWith(ext) && !['run', 'report'].includes(f.slice(0, -ext.length)) && !f.startsWith('_'))
  .map((f) => f.slice(0, -ext.length));

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME [args]\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(2);
}
const mod = (await import(join(here, `${name}${ext}`))) as BenchModule;
const figures = await mod.default(args);
printFigures(name, figures);
