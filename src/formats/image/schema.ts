import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { packageRoot } from '../../paths.js';
import type { RecordType } from './types.js';

/** The published JSON Schema of the image, as shipped in the package. */
export const IMAGE_SCHEMA_PATH = join(packageRoot, 'schema', 'ckptdb-image.schema.json');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface SchemaValidators {
  document: ValidateFunction;
  record: ValidateFunction;
  ndjsonHeader: ValidateFunction;
  ndjsonTrailer: ValidateFunction;
}

let compiled: SchemaValidators | null = null;

/** The schema compiled once per process (compiling costs milliseconds; validating, well under a microsecond). */
export function imageValidators(): SchemaValidators {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(IMAGE_SCHEMA_PATH, 'utf8')) as { $id: string };
  const ajv = new Ajv({ discriminator: true, allErrors: false, strict: true, strictRequired: false });
  ajv.addFormat('int64', {
    type: 'string',
    validate: (s: string) => {
      const n = BigInt(s);
      return n >= INT64_MIN && n <= INT64_MAX;
    },
  });
  ajv.addFormat('iso-time', { type: 'string', validate: (s: string) => isIsoTime(s) });
  ajv.addSchema(schema);
  const get = (ref: string) => ajv.getSchema(`${schema.$id}${ref}`)!;
  compiled = {
    document: get(''),
    record: get('#/definitions/record'),
    ndjsonHeader: get('#/definitions/ndjsonHeader'),
    ndjsonTrailer: get('#/definitions/ndjsonTrailer'),
  };
  return compiled;
}

/** A real instant written the way Date.toISOString writes it, so it survives the round trip. */
export function isIsoTime(s: string): boolean {
  const t = Date.parse(s);
  return Number.isFinite(t) && new Date(t).toISOString() === s;
}

/**
 * The first schema error as a pointer below the validated value and a phrase, in the
 * words a person fixing the file needs: which field, and what it should have been.
 */
export function describeSchemaError(errors: ErrorObject[] | null | undefined): { pointer: string; message: string } {
  const e = pickError(errors ?? []);
  if (!e) return { pointer: '', message: 'does not match the image schema' };
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { pointer: `${e.instancePath}/${escapePointer(String(params.missingProperty))}`, message: 'is missing' };
    case 'additionalProperties':
      return { pointer: `${e.instancePath}/${escapePointer(String(params.additionalProperty))}`, message: 'is not a field of this record' };
    case 'const':
      return { pointer: e.instancePath, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'format':
      return { pointer: e.instancePath, message: params.format === 'int64' ? 'must be a 64-bit integer (-2^63 .. 2^63-1)' : 'must be a UTC time as Date.toISOString() writes it' };
    case 'pattern':
      return { pointer: e.instancePath, message: PATTERN_MESSAGES[String(params.pattern)] ?? `must match ${String(params.pattern)}` };
    case 'discriminator':
      return { pointer: `${e.instancePath}/record`, message: `must be one of ${RECORD_TYPES.map((t) => JSON.stringify(t)).join(', ')}` };
    default:
      return { pointer: e.instancePath, message: e.message ?? 'does not match the image schema' };
  }
}

const PATTERN_MESSAGES: Record<string, string> = {
  '^-?(0|[1-9][0-9]{0,18})$': 'must be a 64-bit integer written as a decimal string',
  '^[0-9a-f]{16}$': 'must be an address: 16 lower-case hex digits',
  '^[r-][w-][x-][ps]$': 'must be permissions as /proc/PID/maps writes them (r-xp)',
  '^[a-z0-9_]+$': 'must be a lower-case resource name without RLIMIT_ (nofile)',
  '^[A-Z0-9_]+$': "must be CRIU's name of an image kind (CORE, FDINFO)",
  '^[A-Za-z0-9+/]*={0,2}$': 'must be base64',
  '^(?:[0-9a-f]{16})$': 'must be a signal mask: 16 hex digits',
};

const RECORD_TYPES: readonly RecordType[] = [
  'checkpoint', 'object', 'file', 'task', 'fd', 'map', 'eventfd', 'epollTarget', 'inotifyWatch', 'timerfd', 'signalfd', 'tty', 'criuChunk', 'criuImage',
];

/** anyOf reports one error per branch; the most useful is the deepest one that is not about null. */
function pickError(errors: ErrorObject[]): ErrorObject | undefined {
  const real = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && !(e.keyword === 'type' && (e.params as { type?: string }).type === 'null'));
  return real[0] ?? errors[0];
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
