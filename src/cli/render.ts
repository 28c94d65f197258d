import type { Writable } from 'node:stream';
import { CkptdbError } from '../errors.js';
import { applicable, textValue, withTextColumns, type TextColumn } from '../query/textColumns.js';

/**
 * The one output renderer of every command that prints rows, as sqlite-utils has one
 * set of output flags: table (aligned; fitted to the width on a terminal), json (an
 * array of objects), ndjson, csv and tsv. Rows stream: only the table holds rows
 * back, and only the first TABLE_SAMPLE of them, to size its columns.
 *
 * Text forms (flags as O_* names, modes as ls -l, ...) are added here and nowhere
 * else: a table shows each in place of the raw column it reads; the other formats keep
 * the raw value and add the text form as a field of its own, COLUMN_text, right after.
 */
export type OutputFormat = 'table' | 'json' | 'ndjson' | 'csv' | 'tsv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'ndjson', 'csv', 'tsv'];

export type Row = Record<string, unknown>;
/** Any objects: interfaces without an index signature are rows too. */
export type Rows = Iterable<object> | AsyncIterable<object>;

export interface RenderOptions {
  format: OutputFormat;
  /** Column order; default: the keys of the first row. */
  columns?: string[];
  out?: Writable & { isTTY?: boolean; columns?: number };
  /** Text forms of raw columns (a canned query's QueryResult.text). */
  text?: readonly TextColumn[];
  /** Table headers other than the column names: `{ fd: 'FD' }`. */
  headers?: Readonly<Record<string, string>>;
}

const TABLE_SAMPLE = 1000;

export function parseFormat(value: string | undefined, json: boolean | undefined): OutputFormat {
  if (json) return 'json';
  if (value === undefined) return 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) {
    throw new CkptdbError('BAD_ARGUMENT', `--format ${value}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return value as OutputFormat;
}

/** Writes rows in the chosen format; resolves when all is written. Returns the row count. */
export async function renderRows(input: Rows, opts: RenderOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const w = new Output(out);
  let columns = opts.columns;
  const rows = opts.text?.length ? withText(input as Iterable<Row> | AsyncIterable<Row>, opts.text, opts.format === 'table', columns) : (input as Iterable<Row> | AsyncIterable<Row>);
  if (columns && opts.text?.length && opts.format !== 'table') columns = withTextColumns(columns, opts.text.filter((t) => columns!.includes(t.column)));
  let n = 0;
  switch (opts.format) {
    case 'json': {
      await w.write('[');
      for await (const row of rows) {
        if (w.closed) break;
        await w.write((n++ ? ',\n' : '\n') + jsonValue(pick(row, (columns ??= Object.keys(row)))));
      }
      await w.write(n ? '\n]\n' : ']\n');
      break;
    }
    case 'ndjson':
      for await (const row of rows) {
        if (w.closed) break;
        await w.write(jsonValue(pick(row, (columns ??= Object.keys(row)))) + '\n');
        n++;
      }
      break;
    case 'csv':
    case 'tsv': {
      const sep = opts.format === 'csv' ? ',' : '\t';
      const cell = opts.format === 'csv' ? csvCell : tsvCell;
      if (columns) await w.write(columns.map(cell).join(sep) + '\n');
      for await (const row of rows) {
        if (w.closed) break;
        if (!columns) {
          columns = Object.keys(row);
          await w.write(columns.map(cell).join(sep) + '\n');
        }
        await w.write(columns.map((c) => cell(text(row[c]))).join(sep) + '\n');
        n++;
      }
      break;
    }
    case 'table':
      n = await renderTable(rows, columns, out, w, opts.headers ?? {});
      break;
  }
  await w.end();
  return n;
}

/**
 * The rows with their text forms: in place of the raw column (a table), or added as
 * COLUMN_text after it. Without a column list the first row decides which apply.
 */
async function* withText(rows: Iterable<Row> | AsyncIterable<Row>, text: readonly TextColumn[], replace: boolean, columns: string[] | undefined): AsyncGenerator<Row> {
  let forms: TextColumn[] | undefined;
  for await (const row of rows) {
    forms ??= applicable(text, Object.keys(row)).filter((t) => !columns || columns.includes(t.column));
    if (replace) {
      const shown: Row = { ...row };
      for (const t of forms) shown[t.column] = textValue(t, row);
      yield shown;
      continue;
    }
    const keys = withTextColumns(Object.keys(row), forms);
    const added: Row = {};
    for (const k of keys) added[k] = k in row ? row[k] : textValue(forms.find((t) => t.name === k)!, row);
    yield added;
  }
}

async function renderTable(rows: Iterable<Row> | AsyncIterable<Row>, columns: string[] | undefined, out: RenderOptions['out'] & object, w: Output, headers: Readonly<Record<string, string>>): Promise<number> {
  const sample: Row[] = [];
  const iterator = (Symbol.asyncIterator in rows ? rows[Symbol.asyncIterator]() : (rows as Iterable<Row>)[Symbol.iterator]()) as
    AsyncIterator<Row> | Iterator<Row>;
  let next = await iterator.next();
  while (!next.done && sample.length < TABLE_SAMPLE) {
    sample.push(next.value);
    next = await iterator.next();
  }
  const cols = columns ?? (sample[0] ? Object.keys(sample[0]) : []);
  if (cols.length === 0) return 0;
  const isNumber = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
  const numeric = cols.map((c) => sample.some((r) => isNumber(r[c])) && sample.every((r) => r[c] == null || isNumber(r[c])));
  const heads = cols.map((c) => headers[c] ?? c);
  const widths = cols.map((c, i) => Math.max(heads[i]!.length, ...sample.map((r) => oneLine(text(r[c])).length)));
  if (out.isTTY && out.columns) fitToWidth(widths, heads, out.columns);
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const s = truncate(v, widths[i]!);
        return numeric[i] ? s.padStart(widths[i]!) : i === values.length - 1 ? s : s.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd() + '\n';
  await w.write(line(heads));
  await w.write(line(widths.map((n) => '-'.repeat(n))));
  let n = 0;
  for (const r of sample) {
    await w.write(line(cols.map((c) => oneLine(text(r[c])))));
    n++;
  }
  while (!next.done && !w.closed) {
    await w.write(line(cols.map((c) => oneLine(text(next.value![c])))));
    n++;
    next = await iterator.next();
  }
  if (!next.done) await iterator.return?.();
  return n;
}

/** Shrinks the widest columns until the line fits the terminal; never below 8. */
function fitToWidth(widths: number[], cols: string[], termWidth: number): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  while (total() > termWidth) {
    let widest = 0;
    widths.forEach((w, i) => {
      if (w > widths[widest]!) widest = i;
    });
    const floor = Math.max(8, Math.min(cols[widest]!.length, 8));
    if (widths[widest]! <= floor) break;
    widths[widest] = Math.max(floor, widths[widest]! - Math.max(1, total() - termWidth));
  }
}

function truncate(s: string, width: number): string {
  return s.length <= width ? s : s.slice(0, Math.max(0, width - 1)) + '…';
}

function oneLine(s: string): string {
  return s.replace(/[\n\r\t]/g, ' ');
}

function pick(row: Row, columns: string[]): Row {
  const o: Row = {};
  for (const c of columns) o[c] = row[c] ?? null;
  return o;
}

/** Plain text of a value: null is empty, bigints keep every digit. */
export function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return jsonValue(v);
}

const BIG = '\u0000big:';

/** JSON in which bigints are written as exact numbers, not rounded or quoted. */
export function jsonValue(v: unknown, indent?: number): string {
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? BIG + x.toString() : Buffer.isBuffer(x) ? x.toString('hex') : x), indent);
  return s.includes('\\u0000big:') ? s.replace(/"\\u0000big:(-?\d+)"/g, '$1') : s;
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** TSV has no quoting: tabs and line breaks inside a value are escaped as \t, \n. */
function tsvCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/**
 * Writes with back-pressure; a reader that went away (EPIPE, `| head`) ends output
 * quietly, and the loops above stop reading rows.
 */
class Output {
  closed = false;
  constructor(private readonly out: Writable) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  write(s: string): Promise<void> | void {
    if (this.closed) return;
    if (this.out.write(s)) return;
    // a reader that goes away while we wait sends 'error' or 'close', never 'drain'
    return new Promise((resolve) => {
      const done = () => {
        this.out.off('drain', done).off('close', done).off('error', done);
        resolve();
      };
      this.out.on('drain', done).on('close', done).on('error', done);
    });
  }

  end(): void {}
}
