import { PassThrough } from 'node:stream';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { renderRows, type OutputFormat } from '../src/cli/render.js';

async function render(rows: Iterable<object> | AsyncIterable<object>, format: OutputFormat, columns?: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => (text += d));
  await renderRows(rows, { format, columns, out });
  return text;
}

const ROWS = [
  { pid: 1, cmd: 'a, "b"\nc', pos: 2n ** 63n - 1n, none: null },
  { pid: 22, cmd: 'tab\there', pos: -5, none: null },
];

describe('the one renderer', () => {
  it('writes JSON, ndjson, CSV and TSV that parse back to the rows', async () => {
    const json = await render(ROWS, 'json');
    expect(json).toBe('[\n{"pid":1,"cmd":"a, \\"b\\"\\nc","pos":9223372036854775807,"none":null},\n{"pid":22,"cmd":"tab\\there","pos":-5,"none":null}\n]\n');
    expect(await render(ROWS, 'ndjson')).toBe(json.slice(2, -3).replace(',\n', '\n') + '\n');
    const csv = await render(ROWS, 'csv');
    expect(parseCsv(csv, { columns: true })).toEqual([
      { pid: '1', cmd: 'a, "b"\nc', pos: '9223372036854775807', none: '' },
      { pid: '22', cmd: 'tab\there', pos: '-5', none: '' },
    ]);
    expect(await render(ROWS, 'tsv')).toBe('pid\tcmd\tpos\tnone\n1\ta, "b"\\nc\t9223372036854775807\t\n22\ttab\\there\t-5\t\n');
  });

  it('streams rows from an async source and keeps the given column order', async () => {
    async function* source() {
      for (let i = 0; i < 3; i++) yield { b: i, a: `x${i}` };
    }
    expect(await render(source(), 'csv', ['a', 'b'])).toBe('a,b\nx0,0\nx1,1\nx2,2\n');
  });

  it('prints the header of an empty result when the columns are known', async () => {
    expect(await render([], 'json', ['a'])).toBe('[]\n');
    expect(await render([], 'csv', ['a', 'b'])).toBe('a,b\n');
    expect(await render([], 'table', ['a', 'b'])).toBe('a  b\n-  -\n');
    expect(await render([], 'ndjson', ['a'])).toBe('');
  });

  it('aligns a table, numbers to the right, and keeps every row on one line', async () => {
    expect(await render(ROWS, 'table')).toBe([
      'pid  cmd                       pos  none',
      '---  --------  -------------------  ----',
      '  1  a, "b" c  9223372036854775807',
      ' 22  tab here                   -5',
      '',
    ].join('\n'));
  });
});
