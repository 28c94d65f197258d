import { CkptdbError } from '../errors.js';
import { sqlTokens, type Token } from '../store/sqlTokens.js';

/**
 * Ad-hoc SQL on PostgreSQL runs in a READ ONLY transaction with a statement timeout,
 * which is rolled back when the rows are read: PostgreSQL itself refuses every write
 * to a table, and nothing a statement did is kept. That leaves what a read-only
 * transaction allows and a rollback does not undo, or what should not be tried at all,
 * which these checks refuse before the server sees the statement:
 *   - more than one statement, and any statement but SELECT, WITH … SELECT, VALUES,
 *     TABLE, SHOW and EXPLAIN of one of them (COPY, SET, RESET, DO, CALL, LOCK,
 *     LISTEN, NOTIFY, PREPARE, transaction control, every write and all DDL);
 *   - the words of writes anywhere (a data-modifying WITH, SELECT … INTO a new table,
 *     FOR UPDATE / FOR SHARE row locks);
 *   - calls of functions that change state outside the transaction or the server
 *     itself: settings, sequences, advisory locks, signals to other sessions,
 *     configuration, WAL and replication, statistics, large objects, server files,
 *     notifications, dblink.
 * Give readers a role that can only SELECT all the same (README).
 */
const HEADS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE', 'SHOW', 'EXPLAIN']);
const WRITE_WORDS = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY', 'INTO', 'CREATE', 'DROP', 'ALTER', 'GRANT', 'REVOKE',
  'LOCK', 'CALL', 'DO', 'VACUUM', 'REINDEX', 'CLUSTER', 'REFRESH', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'PREPARE',
  'EXECUTE', 'DEALLOCATE', 'DISCARD', 'RESET', 'SET', 'SHARE', 'COMMIT', 'ROLLBACK', 'BEGIN', 'SAVEPOINT', 'RELEASE',
  'CHECKPOINT', 'IMPORT', 'SECURITY', 'COMMENT',
]);
const DENIED_FUNCTIONS = new Set([
  'set_config', 'nextval', 'setval', 'currval', 'lastval', 'pg_cancel_backend', 'pg_terminate_backend', 'pg_reload_conf',
  'pg_rotate_logfile', 'pg_switch_wal', 'pg_create_restore_point', 'pg_backup_start', 'pg_backup_stop', 'pg_start_backup',
  'pg_stop_backup', 'pg_promote', 'pg_wal_replay_pause', 'pg_wal_replay_resume', 'pg_log_backend_memory_contexts',
  'pg_notify', 'pg_logical_emit_message', 'pg_export_snapshot', 'pg_import_system_collations', 'pg_read_file',
  'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'txid_current', 'pg_current_xact_id', 'pg_sleep_for', 'pg_sleep_until',
  'lowrite', 'loread', 'query_to_xml', 'query_to_xml_and_xmlschema', 'table_to_xml', 'cursor_to_xml', 'database_to_xml',
  'schema_to_xml', 'ts_stat', 'xpath_table',
]);
/** Families of functions that change state, by the start of their names. */
const DENIED_PREFIXES = ['pg_advisory', 'pg_try_advisory', 'lo_', 'dblink', 'pg_stat_reset', 'pg_replication_', 'pg_create_', 'pg_drop_', 'pg_copy_', 'pg_file_'];

const HINT = 'ad-hoc SQL only reads: SELECT, WITH … SELECT, VALUES, TABLE, SHOW or EXPLAIN, calling no function that changes state';

/** Refuses a statement that is not one read, with the reason; returns its tokens when it is. */
export function checkPostgresQuery(sql: string): Token[] {
  const tokens = [...sqlTokens(sql, { postgres: true })];
  const semicolon = tokens.findIndex((t) => t.kind === 'punct' && t.text === ';');
  if (semicolon >= 0 && semicolon < tokens.length - 1) throw new CkptdbError('READ_ONLY', 'query refused: more than one statement', 'ad-hoc SQL runs one statement at a time');
  const body = semicolon >= 0 ? tokens.slice(0, semicolon) : tokens;
  if (body.length === 0) throw new CkptdbError('BAD_ARGUMENT', 'the query is empty');
  const head = body[0]!;
  if (head.kind !== 'word' || !HEADS.has(head.text)) throw refuse(`${head.kind === 'word' ? head.text : 'the statement'} is not a query that only reads`);
  body.forEach((t, i) => {
    if (t.kind === 'word' && WRITE_WORDS.has(t.text) && !isColumnLike(body, i)) throw refuse(`${t.text} ${t.text === 'INTO' ? 'makes a table' : 'writes or changes the session'}`);
    if (t.kind === 'punct' && t.text === '$' && body[i + 1]?.kind === 'number' && body[i + 1]!.at === t.at + 1) {
      throw new CkptdbError('BAD_ARGUMENT', 'the query has a positional parameter; parameters are bound by name', 'write :name in the SQL and pass --param name=VALUE');
    }
    const next = body[i + 1];
    if ((t.kind === 'word' || t.kind === 'name') && next?.kind === 'punct' && next.text === '(') {
      const fn = t.text.toLowerCase();
      if (DENIED_FUNCTIONS.has(fn) || DENIED_PREFIXES.some((p) => fn.startsWith(p))) throw refuse(`it calls ${fn}(), which changes state`);
    }
  });
  return body;
}

/** `t.share`, `x.set`: a word after a dot is a column or table name, never a keyword. */
function isColumnLike(tokens: Token[], i: number): boolean {
  const prev = tokens[i - 1];
  return prev?.kind === 'punct' && prev.text === '.' && prev.at === tokens[i]!.at - 1;
}

function refuse(reason: string): CkptdbError {
  return new CkptdbError('READ_ONLY', `query refused: ${reason}`, HINT);
}
