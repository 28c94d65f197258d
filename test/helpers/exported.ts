/**
 * Reading what `ckptdb export` wrote, from the outside, as a consumer of the formats
 * would: the image's records in either form, the image with what may differ between a
 * checkpoint and its imported copy blanked, the published JSON Schema compiled on its
 * own, and a tree's files.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { IMAGE_SCHEMA_PATH } from '../../src/index.js';

export type Rec = Record<string, unknown>;

const NDJSON_HEAD = '{"format":"ckptdb-image","version":1}\n';

/** The image's records, document or NDJSON form, parsed whole (fine for test sizes). */
export function imageRecords(text: string): Rec[] {
  if (text.startsWith(NDJSON_HEAD)) {
    const lines = text.trimEnd().split('\n');
    return lines.slice(1, -1).map((l) => JSON.parse(l) as Rec);
  }
  return (JSON.parse(text) as { records: Rec[] }).records;
}

/** The image with its checkpoint record's id and finishedAt blanked: what may differ after a round trip. */
export function withoutIdAndTime(text: string): string {
  return text.replace(/\{"record":"checkpoint","id":\d+,(.*?)"finishedAt":"[^"]*"/, '{"record":"checkpoint","id":0,$1"finishedAt":""');
}

export interface PublishedSchema {
  document: ValidateFunction;
  record: ValidateFunction;
  header: ValidateFunction;
  trailer: ValidateFunction;
}

let compiled: PublishedSchema | null = null;

/** The published schema compiled on its own (not through ckptdb's validators), as a consumer of the image would. */
export function publishedSchema(): PublishedSchema {
  if (compiled) return compiled;
  const ajv = new Ajv({ discriminator: true, strictRequired: false });
  ajv.addFormat('int64', { type: 'string', validate: (s: string) => BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 63n });
  ajv.addFormat('iso-time', { type: 'string', validate: (s: string) => new Date(s).toISOString() === s });
  const schema = JSON.parse(readFileSync(IMAGE_SCHEMA_PATH, 'utf8')) as { $id: string };
  ajv.addSchema(schema);
  compiled = {
    document: ajv.getSchema(schema.$id)!,
    record: ajv.getSchema(`${schema.$id}#/definitions/record`)!,
    header: ajv.getSchema(`${schema.$id}#/definitions/ndjsonHeader`)!,
    trailer: ajv.getSchema(`${schema.$id}#/definitions/ndjsonTrailer`)!,
  };
  return compiled;
}

/**
 * What the published schema finds wrong with an exported image, either form: one line
 * per problem (none for a valid image). The NDJSON form is checked line by line, and
 * its end line must count the records.
 */
export function schemaViolations(text: string): string[] {
  const schema = publishedSchema();
  const problems: string[] = [];
  const check = (validate: ValidateFunction, value: unknown, where: string) => {
    if (!validate(value)) problems.push(`${where}: ${JSON.stringify(validate.errors?.[0] ?? {})}`);
  };
  if (!text.startsWith(NDJSON_HEAD)) {
    check(schema.document, JSON.parse(text), 'document');
    return problems;
  }
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Rec);
  check(schema.header, lines[0], 'line 1');
  check(schema.trailer, lines.at(-1), `line ${lines.length}`);
  if (lines.at(-1)!.records !== lines.length - 2) problems.push(`the end line counts ${String(lines.at(-1)!.records)} records, not ${lines.length - 2}`);
  lines.slice(1, -1).forEach((r, i) => check(schema.record, r, `line ${i + 2}`));
  return problems;
}

/** Every file of a tree by path relative to it, with its text (or, for a link, where it leads). */
export function treeFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) files.set(relative(root, p), `-> ${relative(dir, realpathSync(p))}`);
      else if (e.isDirectory()) walk(p);
      else files.set(relative(root, p), readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return files;
}
