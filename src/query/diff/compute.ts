import type Database from 'better-sqlite3';
import { namedStatements, statement } from '../../store/sqlFile.js';
import { FIELDS, type Selection } from './fields.js';

export const SQL = 'internal/diff.sql';
type Side = 'a' | 'b';
const SIDES: readonly Side[] = ['a', 'b'];
const SHARED_WITH_BIT = 2 ** FIELDS.fds.indexOf('shared_with');
const DETAILS_BIT = 2 ** FIELDS.fds.indexOf('details');

/** The checkpoint ids of the two sides. */
export interface DiffIds {
  a: number;
  b: number;
}

/**
 * One part of the differences, computed into the TEMP tables. Passes read only the
 * checkpoints and the work tables that prepare() fills, never each other's results,
 * so two connections can share them out.
 */
export type Pass = 'tasks' | 'fds' | 'fds_added' | 'sharing' | 'details' | 'maps' | 'objects' | 'images';

export const STATEMENTS: Record<Pass, readonly string[]> = {
  tasks: ['tasks_removed_or_changed', 'tasks_added'],
  fds: ['fds_removed_or_changed'],
  fds_added: ['fds_added'],
  maps: ['maps_removed_or_changed', 'maps_added'],
  objects: ['objects_removed_or_changed', 'objects_added', 'sockets_changed'],
  sharing: [],
  details: ['fds_details_changed'],
  images: ['images_removed_or_changed', 'images_added'],
};

/** What a worker thread takes over on large checkpoints: about half the work. */
export const OFFLOADED: readonly Pass[] = ['objects', 'fds_added'];

/** Differences that one connection found, for another to load. */
export interface DiffRows {
  fds: unknown[][];
  objects: unknown[][];
}

/** A statement of diff.sql that runs once per side, with `{side}` and `{other}` filled in. */
export function sideSql(name: string, side: Side): string {
  return statement(SQL, name).replaceAll('{side}', side).replaceAll('{other}', side === 'a' ? 'b' : 'a');
}

/** The passes a selection needs. */
export function passesFor(sel: Selection): Pass[] {
  const passes: Pass[] = [];
  if (sel.kinds.includes('tasks')) passes.push('tasks');
  if (sel.kinds.includes('fds')) {
    passes.push('fds', 'fds_added');
    if (sel.care.fds & SHARED_WITH_BIT) passes.push('sharing');
    if (sel.care.fds & DETAILS_BIT) passes.push('details');
  }
  if (sel.kinds.includes('maps')) passes.push('maps');
  if (sel.kinds.includes('objects')) passes.push('objects');
  if (sel.kinds.includes('images')) passes.push('images');
  return passes;
}

/** The computation of a diff on one connection (see openDiffConnection): work tables, then passes. */
export class DiffWork {
  constructor(
    private readonly db: Database.Database,
    private readonly ids: DiffIds,
    private readonly sel: Selection,
  ) {}

  /**
   * Creates the TEMP tables and fills what the passes read: the processes with their
   * fd tables and address spaces, and with taskFacts the tasks' owners and facts,
   * which the tasks pass and the reading of a diff need (not a worker's passes).
   */
  prepare(taskFacts: boolean): void {
    for (const sql of namedStatements(SQL).get('create_work_tables')!) this.db.exec(sql);
    this.run1('fill_procs', this.ids);
    this.run1('fill_tables', this.ids);
    if (!taskFacts) return;
    this.perSide('fill_owners', this.ids);
    this.perSide('fill_task_facts', { ...this.ids, ignored: JSON.stringify(this.sel.ignoredEntries) });
  }

  fdsInA(): number {
    return this.db.prepare(statement(SQL, 'fds_in_a')).pluck().get(this.ids) as number;
  }

  run(passes: readonly Pass[]): void {
    for (const pass of passes) {
      if (pass === 'sharing') {
        this.perSide('fill_holders', this.ids);
        this.run1('fill_shares');
        this.run1('fds_sharing_changed', this.ids);
      }
      if (pass === 'details') this.perSide('fill_details', this.ids);
      for (const name of STATEMENTS[pass]) this.run1(name, this.ids);
      if (pass === 'maps') {
        // the pages of CRIU checkpoints, per map
        this.perSide('fill_pages', this.ids);
        this.perSide('fill_page_areas', this.ids);
        this.run1('maps_pages_changed', this.ids);
        this.perSide('maps_pages_of_added_or_removed', this.ids);
      }
    }
  }

  /** The differences in the tables other connections can fill: fds and objects. */
  rows(): DiffRows {
    const dump = (name: string) => this.db.prepare(statement(SQL, name)).raw().all() as unknown[][];
    return { fds: dump('dump_fds'), objects: dump('dump_objects') };
  }

  load(rows: DiffRows): void {
    const fds = this.db.prepare(statement(SQL, 'load_fds'));
    const objects = this.db.prepare(statement(SQL, 'load_objects'));
    for (const r of rows.fds) fds.run(r);
    for (const r of rows.objects) objects.run(r);
  }

  /** Drops the changes that are only in ignored fields. */
  finish(): void {
    for (const sql of namedStatements(SQL).get('drop_ignored')!) this.db.prepare(sql).run(this.sel.care);
  }

  private run1(name: string, params?: object): void {
    const stmt = this.db.prepare(statement(SQL, name));
    if (params) stmt.run(params);
    else stmt.run();
  }

  private perSide(name: string, params: object): void {
    for (const side of SIDES) this.db.prepare(sideSql(name, side)).run(params);
  }
}
