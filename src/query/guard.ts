import type Database from 'better-sqlite3';
import { CkptdbError } from '../errors.js';
import { parameterNames } from './params.js';
import { sqlTokens, type Token } from '../store/sqlTokens.js';

/**
 * Ad-hoc SQL runs on a connection opened read-only, which SQLite itself keeps from
 * writing the store. That is not enough on its own, so every statement also passes
 * these checks, each for a hole the read-only flag leaves:
 *   - PRAGMAs are read before SQLite sees them, because preparing one already acts
 *     (`PRAGMA foreign_keys=OFF` changes the connection at prepare time): only
 *     PRAGMAs that read, in their reading form, get through;
 *   - one statement, and it must read and return rows (`stmt.readonly && stmt.reader`):
 *     this refuses ATTACH and DETACH (which SQLite counts as read-only), VACUUM INTO
 *     (which writes another file, and works on a read-only connection), BEGIN, and
 *     every write, also one hidden in a CTE or after a `;`;
 *   - its bytecode (EXPLAIN) must open no write transaction, run no opcode that
 *     changes the schema, the journal or the connection, and call no function that
 *     loads code (load_extension, also overridden on the connection to refuse).
 */
const READ_PRAGMAS = new Set([
  'application_id', 'auto_vacuum', 'automatic_index', 'busy_timeout', 'cache_size', 'cache_spill', 'case_sensitive_like',
  'cell_size_check', 'checkpoint_fullfsync', 'collation_list', 'compile_options', 'data_version', 'database_list',
  'defer_foreign_keys', 'encoding', 'foreign_key_check', 'foreign_key_list', 'foreign_keys', 'freelist_count',
  'fullfsync', 'function_list', 'hard_heap_limit', 'ignore_check_constraints', 'index_info', 'index_list', 'index_xinfo',
  'integrity_check', 'journal_size_limit', 'legacy_alter_table', 'locking_mode', 'max_page_count',
  'mmap_size', 'module_list', 'page_count', 'page_size', 'pragma_list', 'query_only', 'quick_check', 'read_uncommitted',
  'recursive_triggers', 'reverse_unordered_selects', 'schema_version', 'secure_delete', 'soft_heap_limit', 'synchronous',
  'table_info', 'table_list', 'table_xinfo', 'temp_store', 'threads', 'trusted_schema', 'user_version', 'wal_autocheckpoint',
]);
/** The reading PRAGMAs whose argument names a table or index (or a row limit), never a new value. */
const PRAGMAS_WITH_ARGUMENT = new Set([
  'foreign_key_check', 'foreign_key_list', 'index_info', 'index_list', 'index_xinfo', 'integrity_check', 'quick_check',
  'table_info', 'table_list', 'table_xinfo',
]);
/** Opcodes that change the schema, the journal, the file or the connection. */
const DENIED_OPCODES = new Set([
  'JournalMode', 'SetCookie', 'Vacuum', 'IncrVacuum', 'Checkpoint', 'ParseSchema', 'DropTable', 'DropIndex', 'DropTrigger',
  'CreateBtree', 'Destroy', 'LoadAnalysis', 'VCreate', 'VDestroy', 'VUpdate', 'VRename', 'SqlExec',
]);
/** SQL functions that load code into the process (fts3_tokenizer's two-argument form takes a pointer). */
export const DENIED_FUNCTIONS = ['load_extension', 'fts3_tokenizer'];

const REFUSAL_HINT = 'ad-hoc SQL only reads: SELECT, WITH … SELECT, VALUES, EXPLAIN, or a PRAGMA that reads';

/** Prepares one ad-hoc statement on a read-only connection, or refuses it with the reason. */
export function prepareReadOnly(db: Database.Database, sql: string): Database.Statement {
  const tokens = [...sqlTokens(sql)];
  const explained = tokens[0]?.text === 'EXPLAIN' && tokens[0].kind === 'word';
  const head = tokens.slice(explained ? (tokens[1]?.text === 'QUERY' && tokens[2]?.text === 'PLAN' ? 3 : 1) : 0);
  if (head.length === 0) throw new CkptdbError('BAD_ARGUMENT', 'the query is empty');
  if (head[0]!.kind === 'word' && head[0]!.text === 'PRAGMA') checkPragma(head.slice(1));
  if (tokens.some((t) => t.kind === 'punct' && t.text === '?')) {
    throw new CkptdbError('BAD_ARGUMENT', 'the query has a ? parameter; parameters are bound by name', 'write :name in the SQL and pass --param name=VALUE');
  }

  let stmt: Database.Statement;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    throw sqlError(e);
  }
  const verb = describe(head);
  if (!stmt.readonly) throw refuse(`${verb} writes to the store`);
  if (!stmt.reader) throw refuse(`${verb} does not return rows`);
  if (!explained) checkBytecode(db, sql, verb, parameterNames(tokens, sql));
  return stmt;
}

function checkPragma(rest: Token[]): void {
  // PRAGMA [schema.]name [= value | (argument)]
  const named = rest[1]?.text === '.' ? rest.slice(2) : rest;
  const name = named[0]?.text.toLowerCase() ?? '';
  const next = named[1];
  if (!READ_PRAGMAS.has(name)) throw refuse(`PRAGMA ${name || '(no name)'} is not one that only reads`);
  if (next === undefined || (next.kind === 'punct' && next.text === ';' && named.length === 2)) return;
  if (next.kind === 'punct' && next.text === '(' && PRAGMAS_WITH_ARGUMENT.has(name)) return;
  throw refuse(`PRAGMA ${name} with a value changes the connection`);
}

function checkBytecode(db: Database.Database, sql: string, verb: string, params: string[]): void {
  let program: { opcode: string; p2: number; p4: unknown }[];
  try {
    // EXPLAIN needs every parameter bound, but not to its value: the program is the same
    program = db.prepare(`EXPLAIN ${sql}`).all(Object.fromEntries(params.map((p) => [p, null]))) as typeof program;
  } catch (e) {
    throw sqlError(e);
  }
  for (const op of program) {
    if (op.opcode === 'Transaction' && op.p2 !== 0) throw refuse(`${verb} opens a write transaction`);
    if (DENIED_OPCODES.has(op.opcode)) throw refuse(`${verb} runs ${op.opcode}, which changes the store or the connection`);
    if ((op.opcode === 'Function' || op.opcode === 'PureFunc') && typeof op.p4 === 'string') {
      const fn = op.p4.replace(/\(.*$/, '').toLowerCase();
      if (DENIED_FUNCTIONS.includes(fn)) throw refuse(`${verb} calls ${fn}()`);
    }
  }
}

/** The statement's kind for a message: `INSERT`, `ATTACH`, `WITH … DELETE`. */
function describe(head: Token[]): string {
  const first = head[0]!;
  if (first.kind !== 'word') return 'the statement';
  if (first.text !== 'WITH') return first.text;
  // the verb after the CTEs: the first of these at parenthesis depth 0
  let depth = 0;
  for (const t of head.slice(1)) {
    if (t.kind === 'punct') depth += t.text === '(' ? 1 : t.text === ')' ? -1 : 0;
    else if (depth === 0 && t.kind === 'word' && ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'VALUES'].includes(t.text)) {
      return `WITH … ${t.text}`;
    }
  }
  return 'WITH';
}

function refuse(reason: string): CkptdbError {
  return new CkptdbError('READ_ONLY', `query refused: ${reason}`, REFUSAL_HINT);
}

export function sqlError(e: unknown): CkptdbError {
  const message = (e as Error).message ?? String(e);
  if (/more than one statement/.test(message)) {
    return new CkptdbError('READ_ONLY', 'query refused: more than one statement', 'ad-hoc SQL runs one statement at a time');
  }
  return new CkptdbError('SQL_ERROR', `SQL error: ${message.split('\n')[0]}`, undefined, { cause: e });
}
