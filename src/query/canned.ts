import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CkptdbError } from '../errors.js';
import { sqlDir } from '../paths.js';
import { statement } from '../store/sqlFile.js';
import { parameterNames } from './params.js';
import { sqlTokens } from '../store/sqlTokens.js';
import { parseTextColumns, type TextColumn } from './textColumns.js';

/** A canned query's parameter, as its `.sql` file's header declares it. */
export interface CannedParam {
  name: string;
  description: string;
  /** What it is when not given: a value, `newest` (the newest checkpoint), or null (optional). */
  default: string | null;
  required: boolean;
}

/** A query of `sql/NAME.sql`, read from its header comment and body. */
export interface CannedQuery {
  name: string;
  description: string;
  params: CannedParam[];
  /** Text forms of its raw columns, from `-- text:` lines (see textColumns.ts). */
  text: TextColumn[];
  sql: string;
  file: string;
}

/** The default that stands for the newest checkpoint of the store. */
export const NEWEST = 'newest';

// -- param: name            required
// -- param: name?           optional (NULL when not given)
// -- param: name = value    with a default
const PARAM = /^--\s*param:\s*([A-Za-z_][A-Za-z0-9_]*)(\?|\s*=\s*(\S+))?\s+(.+)$/;

let cache: Map<string, CannedQuery> | null = null;

/** Every canned query of sql/, by name. */
export function cannedQueries(): Map<string, CannedQuery> {
  if (cache) return cache;
  const found = new Map<string, CannedQuery>();
  for (const file of readdirSync(sqlDir).filter((f) => f.endsWith('.sql')).sort()) {
    const q = parseCanned(file, readFileSync(join(sqlDir, file), 'utf8'));
    found.set(q.name, q);
  }
  cache = found;
  return found;
}

export function cannedQuery(name: string): CannedQuery {
  const q = cannedQueries().get(name);
  if (!q) {
    throw new CkptdbError('NO_SUCH_QUERY', `no canned query named '${name}'`, `\`ckptdb q --list\` shows them: ${[...cannedQueries().keys()].join(', ')}`);
  }
  return q;
}

/**
 * Reads the header (`-- name:`, `-- description:`, `-- param:`, `-- text:` lines) and checks it
 * against the statement: a parameter the SQL uses but the header does not declare,
 * or the reverse, is a mistake in the file.
 */
export function parseCanned(file: string, text: string): CannedQuery {
  const header = text.split('\n').filter((l) => l.startsWith('--'));
  const field = (key: string) => header.map((l) => new RegExp(`^--\\s*${key}:\\s*(.+)$`).exec(l)?.[1]?.trim()).find(Boolean);
  const name = field('name');
  const description = field('description');
  if (!name || !description) throw new Error(`sql/${file}: a canned query needs -- name: and -- description: lines`);
  if (`${name}.sql` !== file) throw new Error(`sql/${file}: holds query ${name}; its file must be ${name}.sql`);
  const params: CannedParam[] = [];
  for (const line of header.filter((l) => /^--\s*param:/.test(l))) {
    const m = PARAM.exec(line);
    if (!m) throw new Error(`sql/${file}: cannot read '${line}'; write -- param: name[?| = default]  description`);
    const optional = m[2] === '?';
    params.push({ name: m[1]!, description: m[4]!.trim(), default: m[3] ?? null, required: !optional && m[3] === undefined });
  }
  const forms = header.flatMap((l) => {
    const m = /^--\s*text:\s*(.+)$/.exec(l);
    return m ? parseTextColumns(`sql/${file}`, m[1]!) : [];
  });
  const sql = statement(file, name);
  const used = parameterNames(sqlTokens(sql), sql);
  const declared = params.map((p) => p.name);
  const undeclared = used.filter((u) => !declared.includes(u));
  const unused = declared.filter((d) => !used.includes(d));
  if (undeclared.length || unused.length) {
    throw new Error(`sql/${file}: parameters used but not declared: [${undeclared.join(', ')}]; declared but not used: [${unused.join(', ')}]`);
  }
  return { name, description, params, text: forms, sql, file: join(sqlDir, file) };
}
