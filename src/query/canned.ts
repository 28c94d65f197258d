import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CkptdbError } from '../errors.js';
import { sqlDir } from '../paths.js';
import { statement } from '../store/sqlFile.js';
import { paramValue, parameterNames, type Params } from './params.js';
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
  /**
   * The form a PostgreSQL store runs, from sql/postgres/NAME.sql, where the portable form
   * would cost SQLite its indexes; the same parameters and rows. Most queries have none.
   */
  postgresSql?: string;
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
    const variant = join(sqlDir, 'postgres', file);
    if (existsSync(variant)) {
      const pg = parseCanned(`postgres/${file}`, readFileSync(variant, 'utf8'));
      if (JSON.stringify(pg.params) !== JSON.stringify(q.params)) throw new Error(`sql/postgres/${file}: its parameters differ from sql/${file}'s`);
      if (JSON.stringify(pg.text) !== JSON.stringify(q.text)) throw new Error(`sql/postgres/${file}: its -- text: lines differ from sql/${file}'s`);
      q.postgresSql = pg.sql;
    }
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
  if (`${name}.sql` !== basename(file)) throw new Error(`sql/${file}: holds query ${name}; its file must be ${name}.sql`);
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

/** A canned query's text forms, after checking that the columns they read are among those it returned. */
export function textColumnsOf(q: CannedQuery, columns: readonly string[]): TextColumn[] {
  const missing = q.text.flatMap((t) => t.args).filter((a) => !columns.includes(a));
  if (missing.length) throw new Error(`${q.file}: its -- text: line reads columns the query does not return: ${missing.join(', ')}`);
  return q.text;
}

/** A parameter whose default is the newest checkpoint, with the id asked for (none: the newest). */
export interface CheckpointParam {
  name: string;
  asked: number | undefined;
}

/**
 * A canned query's parameters: as given, defaults for the rest. Those whose default is
 * the newest checkpoint are left to the caller, which knows its store, in `checkpoints`.
 */
export function bindCanned(q: CannedQuery, given: Params): { bound: Params; checkpoints: CheckpointParam[] } {
  const known = q.params.map((p) => p.name);
  for (const name of Object.keys(given)) {
    if (!known.includes(name)) {
      throw new CkptdbError('BAD_ARGUMENT', `canned query ${q.name} has no parameter '${name}'`, known.length ? `its parameters: ${known.join(', ')}` : 'it takes none');
    }
  }
  const bound: Params = {};
  const checkpoints: CheckpointParam[] = [];
  for (const p of q.params) {
    const value = given[p.name];
    if (p.default === NEWEST) {
      checkpoints.push({ name: p.name, asked: value === undefined || value === null ? undefined : checkpointArg(value, p.name) });
    } else if (value !== undefined) {
      bound[p.name] = value;
    } else if (p.default !== null) {
      bound[p.name] = paramValue(p.default);
    } else if (p.required) {
      throw new CkptdbError('MISSING_PARAMETER', `canned query ${q.name} needs --param ${p.name}=VALUE (${p.description})`);
    } else {
      bound[p.name] = null;
    }
  }
  return { bound, checkpoints };
}

function checkpointArg(value: string | number | bigint, name: string): number {
  const n = typeof value === 'string' ? Number.NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new CkptdbError('BAD_ARGUMENT', `--param ${name}=${String(value)}: a checkpoint id is a positive integer`);
  return n;
}
