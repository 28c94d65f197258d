import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqlDir } from '../paths.js';
import { sqlTokens } from './sqlTokens.js';

/**
 * Reads a file of named statements (`-- name: foo` starts a section, as in yesql) so
 * SQL stays in readable .sql files. A section may hold several statements; they are
 * returned one by one, in order.
 */
const cache = new Map<string, Map<string, string[]>>();

export function namedStatements(file: string): Map<string, string[]> {
  let parsed = cache.get(file);
  if (parsed) return parsed;
  parsed = new Map();
  const text = readFileSync(join(sqlDir, file), 'utf8');
  let name: string | null = null;
  let body: string[] = [];
  const flush = () => {
    if (name === null) return;
    parsed!.set(name, splitStatements(body.join('\n')));
  };
  for (const line of text.split('\n')) {
    const m = /^--\s*name:\s*(\S+)/.exec(line);
    if (m) {
      flush();
      name = m[1]!;
      body = [];
    } else if (name !== null) {
      body.push(line);
    }
  }
  flush();
  cache.set(file, parsed);
  return parsed;
}

/** The one statement named `name` in `file`. */
export function statement(file: string, name: string): string {
  const all = namedStatements(file).get(name);
  if (!all || all.length !== 1) throw new Error(`${file}: expected one statement named ${name}`);
  return all[0]!;
}

/** Statements end at a `;` that is SQL, not part of a comment or a string. */
function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let hasCode = false;
  for (const t of sqlTokens(text)) {
    if (t.kind === 'punct' && t.text === ';') {
      if (hasCode) statements.push(text.slice(start, t.at).trim());
      start = t.at + 1;
      hasCode = false;
    } else {
      hasCode = true;
    }
  }
  if (hasCode) statements.push(text.slice(start).trim());
  return statements;
}
