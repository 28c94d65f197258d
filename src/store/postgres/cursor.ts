import type pg from 'pg';
import Cursor from 'pg-cursor';
import { connectionLost, STORE_TYPES } from './connection.js';
import type { SqlValue } from './statement.js';

export interface RowStream {
  /** Column names, known before any row. */
  columns: string[];
  /** Rows as arrays, read from the server a batch at a time. Iterate once. */
  rows: AsyncGenerator<unknown[]>;
}

/**
 * A query whose rows stream through a cursor, so a million of them never sit in
 * memory. Its first batch is read at once, for the column names; the cursor is closed
 * when the rows are read to the end, or when the reader stops early.
 */
export async function openRows(client: pg.Client, text: string, values: SqlValue[] = [], batch = 2000): Promise<RowStream> {
  const cursor = client.query(new Cursor(text, values as unknown[], { rowMode: 'array', types: STORE_TYPES }));
  let first: unknown[][];
  let fields: { name: string }[];
  try {
    first = await Promise.race([readBatch(cursor, batch, (f) => (fields = f)), connectionLost(client)]);
  } catch (e) {
    await Promise.race([cursor.close(), connectionLost(client)]).catch(() => undefined);
    throw e;
  }
  async function* rows(): AsyncGenerator<unknown[]> {
    try {
      let chunk = first;
      while (chunk.length) {
        yield* chunk;
        if (chunk.length < batch) return;
        chunk = await Promise.race([readBatch(cursor, batch), connectionLost(client)]);
      }
    } finally {
      await Promise.race([cursor.close(), connectionLost(client)]).catch(() => undefined);
    }
  }
  return { columns: fields!.map((f) => f.name), rows: rows() };
}

function readBatch(cursor: Cursor, n: number, onFields?: (f: { name: string }[]) => void): Promise<unknown[][]> {
  return new Promise((resolve, reject) => {
    cursor.read(n, (err, rows, result) => {
      if (err) return reject(err);
      onFields?.((result as unknown as { fields?: { name: string }[] }).fields ?? []);
      resolve(rows as unknown as unknown[][]);
    });
  });
}
