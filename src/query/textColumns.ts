/**
 * Text forms of a query's raw columns, derived in one place: a canned query declares
 * them in its header (`-- text: flags_text(flags), fd_text(fd, flags)`), the query
 * itself returns only raw columns (so it runs unchanged wherever the SQL functions do
 * not exist), and the renderer adds each text form beside its column or in its place.
 */
import { TEXT_FUNCTIONS, type TextFunctionName } from '../store/textForms.js';
import type { Row } from './rows.js';

/** One text form: `fn(args...)` of a row's columns, named after the first one: COLUMN_text. */
export interface TextColumn {
  /** The field it is written as in JSON, ndjson, CSV and TSV. */
  name: string;
  /** The raw column it reads and, in a table, stands in for. */
  column: string;
  fn: TextFunctionName;
  args: string[];
}

const CALL = /([a-z_]+)\(\s*([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*)\s*\)/g;

/** The calls of a `-- text:` header line; throws on a function that is not a text form. */
export function parseTextColumns(where: string, spec: string): TextColumn[] {
  const found: TextColumn[] = [];
  const rest = spec.replace(CALL, (_all, fn: string, args: string) => {
    if (!(fn in TEXT_FUNCTIONS)) throw new Error(`${where}: ${fn}() is not a text form; they are ${Object.keys(TEXT_FUNCTIONS).join(', ')}`);
    const list = args.split(',').map((a) => a.trim());
    found.push({ name: `${list[0]!}_text`, column: list[0]!, fn: fn as TextFunctionName, args: list });
    return '';
  });
  if (rest.replace(/[\s,]/g, '') !== '') throw new Error(`${where}: cannot read '-- text: ${spec}'; write -- text: fn(column, ...), ...`);
  return found;
}

/** The text forms a query's columns can feed: those whose arguments are all there. */
export function applicable(text: readonly TextColumn[], columns: readonly string[]): TextColumn[] {
  return text.filter((t) => t.args.every((a) => columns.includes(a)));
}

/** The value of one text form for a row. */
export function textValue(t: TextColumn, row: Row): string | null {
  const fn = TEXT_FUNCTIONS[t.fn] as (...args: unknown[]) => string | null;
  return fn(...t.args.map((a) => row[a]));
}

/** The columns with each text form placed right after the column it reads. */
export function withTextColumns(columns: readonly string[], text: readonly TextColumn[]): string[] {
  return columns.flatMap((c) => [c, ...text.filter((t) => t.column === c && !columns.includes(t.name)).map((t) => t.name)]);
}
