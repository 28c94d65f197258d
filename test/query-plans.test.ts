import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { sqlDir } from '../src/paths.js';
import { namedStatements } from '../src/store/sqlFile.js';
import { tempStorePath } from './helpers/tmp.js';

/**
 * Every statement in sql/ reads the rows of the checkpoints it names through an index
 * led by checkpoint_id: none scans a table of per-checkpoint rows (tasks, fds, files,
 * maps, …) whole. One join by id columns alone (fds to files without the checkpoint)
 * turned a 2 s diff of two 1M-fd checkpoints into more than 8 minutes on a store of
 * many; the plans tell it on an empty store, long before anybody has such a store.
 *
 * What SQLite's EXPLAIN QUERY PLAN calls `SCAN x` is a full pass over x; x is a table,
 * an alias (resolved from the statement and the views it reads), or an index.
 */

/** Statements that read the whole store on purpose: verify checks every row. */
const WHOLE_STORE = new Set([
  'internal/store.sql refcount_mismatches',
  'internal/store.sql cross_checkpoint_refs',
  'internal/store.sql files_without_object',
  'internal/chunks.sql image_size_mismatches',
]);

/** Statements run on the PostgreSQL side of a pull, not on a SQLite store. */
const NOT_SQLITE = /^internal\/pull\.sql remote_/;

interface Checked {
  where: string;
  sql: string;
}

function statements(): Checked[] {
  const all: Checked[] = [];
  for (const f of readdirSync(sqlDir).filter((n) => n.endsWith('.sql'))) {
    all.push({ where: f, sql: readFileSync(join(sqlDir, f), 'utf8') });
  }
  for (const f of readdirSync(join(sqlDir, 'internal')).filter((n) => n.endsWith('.sql'))) {
    for (const [name, sqls] of namedStatements(`internal/${f}`)) {
      // the diff runs its per-side statements once for each side, as schemas a and b
      for (const sql of sqls) all.push({ where: `internal/${f} ${name}`, sql: sql.replaceAll('{side}', 'a').replaceAll('{other}', 'b') });
    }
  }
  return all;
}

const KEYWORD = /^(WHERE|ON|JOIN|LEFT|RIGHT|FULL|INNER|CROSS|OUTER|USING|GROUP|ORDER|LIMIT|WINDOW|UNION|NATURAL|AS|SET|VALUES)$/i;

class PlanCheck {
  private readonly scoped: Set<string>;
  private readonly indexTable: Map<string, string>;
  private readonly views: { name: string; sql: string }[];

  constructor(private readonly db: Database.Database) {
    this.scoped = new Set(
      db.prepare("SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'checkpoint_id'").pluck().all() as string[],
    );
    const indexes = db.prepare("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'").all() as { name: string; tbl_name: string }[];
    this.indexTable = new Map(indexes.map((r) => [r.name, r.tbl_name]));
    this.views = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'view'").all() as { name: string; sql: string }[];
  }

  /** How many per-checkpoint tables there are: the check means nothing without them. */
  get tables(): number {
    return this.scoped.size;
  }

  /** The full scans of per-checkpoint tables in the statement's plan. */
  fullScans(sql: string): string[] {
    const plan = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(this.params(sql)) as { detail: string }[];
    const aliases = this.aliases(sql);
    const found: string[] = [];
    for (const { detail } of plan) {
      const m = /^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?/.exec(detail);
      if (!m) continue;
      const tables = m[2] ? [this.indexTable.get(m[2]) ?? m[2]] : [...(aliases.get(m[1]!) ?? [])];
      if (tables.some((t) => this.scoped.has(t))) found.push(`${detail} (${tables.join(' or ')})`);
    }
    return found;
  }

  /** Every name a table goes by in the statement and in the views it reads. */
  private aliases(sql: string): Map<string, Set<string>> {
    let code = sql.replace(/--[^\n]*/g, '');
    for (let grown = true; grown; ) {
      grown = false;
      for (const v of this.views) {
        if (!code.includes(v.sql) && new RegExp(`\\b${v.name}\\b`).test(code)) {
          code += `\n${v.sql}`;
          grown = true;
        }
      }
    }
    const aliases = new Map<string, Set<string>>();
    const bind = (alias: string, table: string) => aliases.set(alias, (aliases.get(alias) ?? new Set()).add(table));
    for (const [, table, alias] of code.matchAll(/\b(?:FROM|JOIN|,)\s+(?:\w+\.)?(\w+)(?:\s+(?:AS\s+)?(\w+))?/gi)) {
      bind(table!, table!);
      if (alias && !KEYWORD.test(alias)) bind(alias, table!);
    }
    return aliases;
  }

  /** Any value for each parameter: named ones by name, positional ones by count. */
  private params(sql: string): Record<string, number> | number[] {
    const names = new Set([...sql.replace(/--[^\n]*/g, '').matchAll(/(?<![:\w]):([A-Za-z_]\w*)/g)].map((m) => m[1]!));
    if (names.size > 0) return Object.fromEntries([...names].map((n) => [n, 1]));
    const s = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
    for (let n = 0; n <= 100; n++) {
      try {
        s.all(Array(n).fill(1));
        return Array(n).fill(1);
      } catch (e) {
        if (!/parameter/.test((e as Error).message)) throw e;
      }
    }
    throw new Error('more than 100 parameters');
  }
}

describe('query plans', () => {
  it('no statement in sql/ scans a table of per-checkpoint rows whole', () => {
    const path = tempStorePath();
    const store = openStore(path, { create: true });
    try {
      const db = store.db;
      // the diff reads its two checkpoints through schemas a and b
      db.prepare('ATTACH ? AS a').run(path);
      db.prepare('ATTACH ? AS b').run(path);
      const check = new PlanCheck(db);
      expect(check.tables).toBeGreaterThan(10);
      const scans: string[] = [];
      const unchecked: string[] = [];
      let checked = 0;
      for (const { where, sql } of statements()) {
        if (NOT_SQLITE.test(where)) continue;
        const code = sql.replace(/--[^\n]*/g, '').trim();
        // the temp tables a file's later statements read; dropping them comes last
        if (/^DROP\b/i.test(code)) continue;
        if (/^CREATE\b/i.test(code)) {
          try {
            db.exec(sql);
          } catch (e) {
            if (!/already exists/.test((e as Error).message)) unchecked.push(`${where}: ${(e as Error).message}`);
          }
          continue;
        }
        try {
          const found = check.fullScans(sql);
          checked++;
          if (found.length > 0 && !WHOLE_STORE.has(where)) scans.push(`${where}: ${found.join('; ')}`);
        } catch (e) {
          unchecked.push(`${where}: ${(e as Error).message}`);
        }
      }
      expect(unchecked).toEqual([]);
      expect(scans).toEqual([]);
      expect(checked).toBeGreaterThan(100);
    } finally {
      store.close();
    }
  });
});
