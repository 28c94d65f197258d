import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { TokenParser, Tokenizer } from '@streamparser/json';
import { CkptdbError } from '../../errors.js';
import { badImage } from '../badImage.js';
import { ImageChecker, type RecordRef } from './check.js';
import { describeSchemaError, escapePointer, imageValidators } from './schema.js';
import { DOCUMENT_HEAD, DOCUMENT_TAIL, NDJSON_HEAD } from './serialize.js';
import { IMAGE_FORMAT, IMAGE_VERSION, type ImageForm, type ImageRecord } from './types.js';

/** A record with where it came from: a record index (document) or a line number (NDJSON). */
export interface LocatedRecord {
  record: ImageRecord;
  ref: RecordRef;
}

export interface ImageReaderOptions {
  /** How messages name the input; default: the path, or "stdin". */
  name?: string;
  /** Refuse the other form; default: take either. */
  form?: ImageForm;
}

/** The first line is read whole up to this size; a longer one is a re-indented document's. */
const FIRST_LINE_LIMIT = 64 * 1024;
const TOP_LEVEL_KEYS = new Set(['format', 'version', 'records']);

/**
 * Reads an image (either form) as a stream and yields its records in the order they are
 * written, each validated against the published schema and the image's rules (see
 * ImageChecker) before it is yielded. The first problem ends the reading with a
 * CkptdbError (code BAD_IMAGE) whose message names the input, where in it (a JSON
 * pointer, or a line of the NDJSON form) and what was wrong.
 *
 * The document as ckptdb writes it is read line by line with JSON.parse; the same
 * document laid out otherwise (re-indented, on one line) goes through a streaming JSON
 * parser from where the layout departs. Memory stays flat either way.
 */
export class ImageReader {
  readonly name: string;
  private readonly validators = imageValidators();
  private readonly checker = new ImageChecker((ref, field, message) => this.fail(ref, field, message));
  private detected: ImageForm | null = null;

  constructor(private readonly source: string | Readable, private readonly opts: ImageReaderOptions = {}) {
    this.name = opts.name ?? (typeof source === 'string' ? (source === '-' ? 'stdin' : source) : 'stdin');
  }

  /** The form found at the start of the input; known once the first batch is read. */
  get form(): ImageForm | null {
    return this.detected;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ImageRecord> {
    for await (const batch of this.batches()) for (const r of batch) yield r.record;
  }

  /** The records as they are read, a chunk of input at a time, each with its location. */
  async *batches(): AsyncGenerator<LocatedRecord[]> {
    const stream = this.open();
    const decoder = new StringDecoder('utf8');
    let mode: Mode | null = null;
    let pending = '';
    try {
      for await (const chunk of stream) {
        let text = decoder.write(chunk as Buffer);
        if (mode === null) {
          pending += text;
          const nl = pending.indexOf('\n');
          if (nl < 0 && pending.length < FIRST_LINE_LIMIT) continue;
          mode = this.chooseMode(pending, nl);
          text = pending;
          pending = '';
        }
        const out = mode.feed(text);
        if (out.length) yield out;
      }
      const tail = pending + decoder.end();
      mode ??= this.chooseMode(tail, tail.indexOf('\n'));
      const out = mode.finish(tail);
      if (out.length) yield out;
    } finally {
      stream.destroy();
    }
  }

  /** Reports a problem at a record and field; never returns. */
  fail(ref: RecordRef, field: string, message: string): never {
    throw badImage(`${this.name}: ${this.where(ref, field)}: ${message}`);
  }

  /** Where a record and field are, in words a person can find in the file. */
  where(ref: RecordRef, field: string): string {
    if (this.detected === 'ndjson') return field ? `line ${ref}: ${field}` : `line ${ref}`;
    return `/records/${ref}${field}`;
  }

  private open(): Readable {
    if (typeof this.source !== 'string') return this.source;
    if (this.source === '-') return process.stdin;
    const stream = createReadStream(this.source, { highWaterMark: 256 * 1024 });
    return stream;
  }

  private chooseMode(start: string, nl: number): Mode {
    const first = (nl < 0 ? start : start.slice(0, nl)).replace(/\r$/, '');
    if (start.trim() === '') {
      throw badImage(`${this.name}: the input is empty, not a ckptdb image`);
    }
    let form: ImageForm = 'document';
    if (first === NDJSON_HEAD) form = 'ndjson';
    else if (first !== DOCUMENT_HEAD && first.length < FIRST_LINE_LIMIT) {
      const head = parseOrNull(first);
      if (head && typeof head === 'object' && !Array.isArray(head) && !('records' in head)) form = 'ndjson';
    }
    if (this.opts.form && this.opts.form !== form) {
      throw badImage(`${this.name}: line 1: this is the ${form === 'ndjson' ? 'NDJSON form' : 'document form'} of an image, not the ${this.opts.form === 'ndjson' ? 'NDJSON form' : 'document form'}`, `leave out --format, or name the form it is in`);
    }
    this.detected = form;
    if (form === 'ndjson') return new NdjsonLines(this);
    if (first === DOCUMENT_HEAD) return new DocumentLines(this);
    return new DocumentParser(this, 0, '');
  }

  /** Validates one record against the schema and the image's rules. */
  accept(value: unknown, ref: RecordRef, out: LocatedRecord[]): void {
    if (!this.validators.record(value)) {
      const { pointer, message } = describeSchemaError(this.validators.record.errors);
      this.fail(ref, pointer, message);
    }
    const record = value as ImageRecord;
    this.checker.check(record, ref);
    out.push({ record, ref });
  }

  finishChecks(endRef: RecordRef): void {
    this.checker.finish(endRef);
  }

  headerError(where: string, message: string): never {
    throw badImage(`${this.name}: ${where}: ${message}`);
  }

  checkHeader(value: unknown, validate: 'ndjsonHeader', where: string): void {
    const v = this.validators[validate];
    if (!v(value)) {
      const { pointer, message } = describeSchemaError(v.errors);
      this.headerError(pointer ? `${where}: ${pointer}` : where, headerMessage(pointer, message));
    }
  }
}

interface Mode {
  /** Takes the next piece of text; returns the records it completed. */
  feed(text: string): LocatedRecord[];
  /** The input has ended (with a last piece of text). */
  finish(text: string): LocatedRecord[];
  /** The mode that takes over from the next piece of text on, if this one handed over. */
  next?: Mode;
}

/** Splits text into whole lines; keeps the unfinished last one. */
abstract class LineMode implements Mode {
  protected rest = '';
  protected line = 0;
  next?: Mode;

  feed(text: string): LocatedRecord[] {
    if (this.next) return this.next.feed(text);
    const out: LocatedRecord[] = [];
    let data = this.rest + text;
    let start = 0;
    for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n', start)) {
      this.line++;
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.onLine(data.slice(start, end), out);
      start = nl + 1;
      const next = this.handedOver();
      if (next) {
        for (const r of next.feed(data.slice(start))) out.push(r);
        data = '';
        start = 0;
        break;
      }
    }
    this.rest = data.slice(start);
    return out;
  }

  finish(text: string): LocatedRecord[] {
    const out = this.feed(text);
    if (!this.next && this.rest !== '') {
      this.line++;
      const last = this.rest;
      this.rest = '';
      this.onLine(last, out);
    }
    const next = this.handedOver();
    if (next) return out.concat(next.finish(''));
    this.onEnd(out);
    return out;
  }

  /** Read through a method: onLine may have set it since the last check. */
  private handedOver(): Mode | undefined {
    return this.next;
  }

  protected abstract onLine(line: string, out: LocatedRecord[]): void;
  protected abstract onEnd(out: LocatedRecord[]): void;
}

/** ckptdb's own layout of the document: a fixed first line, one record a line, a fixed last line. */
class DocumentLines extends LineMode {
  private index = 0;
  /** After a record without a comma, only the closing line may come. */
  private closed = false;
  private ended = false;

  constructor(private readonly reader: ImageReader) {
    super();
  }

  protected onLine(line: string, out: LocatedRecord[]): void {
    if (this.line === 1) return; // the header, DOCUMENT_HEAD exactly
    if (this.ended) {
      if (line.trim() !== '') this.reader.headerError(`line ${this.line}`, 'text after the end of the document');
      return;
    }
    if (line === DOCUMENT_TAIL) {
      this.ended = true;
      return;
    }
    if (!this.closed) {
      const comma = line.endsWith(',');
      const value = parseOrNull(comma ? line.slice(0, -1) : line);
      if (value !== undefined) {
        this.reader.accept(value, this.index++, out);
        this.closed = !comma;
        return;
      }
    }
    // Not ckptdb's layout from here on: the streaming parser takes the rest, picking up
    // inside the records array where the lines left it.
    this.next = new DocumentParser(this.reader, this.index, this.closed ? '0' : '', line + '\n');
  }

  protected onEnd(): void {
    if (!this.ended) this.reader.fail(this.index, '', `the document ends early, before its closing ${DOCUMENT_TAIL} (truncated?)`);
    this.reader.finishChecks(this.index);
  }
}

/** The NDJSON form: a header line, one record a line, an end line. */
class NdjsonLines extends LineMode {
  private ended = false;
  private records = 0;

  constructor(private readonly reader: ImageReader) {
    super();
  }

  protected onLine(line: string, out: LocatedRecord[]): void {
    if (line.trim() === '') return;
    const value = parseOrNull(line);
    if (value === undefined) this.reader.fail(this.line, '', `malformed JSON: ${jsonError(line)}`);
    if (this.line === 1) {
      this.reader.checkHeader(value, 'ndjsonHeader', 'line 1');
      return;
    }
    if (this.ended) this.reader.fail(this.line, '', 'a line after the end record');
    if (isObject(value) && value.record === 'end') {
      this.ended = true;
      if (value.records !== this.records || Object.keys(value).length !== 2) {
        this.reader.fail(this.line, '/records', `the end record counts ${JSON.stringify(value.records)} records, but ${this.records} came before it (lost lines?)`);
      }
      return;
    }
    this.records++;
    this.reader.accept(value, this.line, out);
  }

  protected onEnd(): void {
    if (this.line === 0) this.reader.fail(1, '', 'the input is empty, not a ckptdb image');
    if (!this.ended) this.reader.fail(this.line + 1, '', 'the image ends without its end record (truncated?)');
    this.reader.finishChecks(this.line);
  }
}

/**
 * The document in any layout, through a streaming JSON parser. Given a start index and
 * prefix, it picks up inside the records array (after a comma, or after a value when the
 * prefix is a placeholder value to skip), where DocumentLines handed over.
 */
class DocumentParser implements Mode {
  private readonly tokenizer = new Tokenizer();
  private readonly parser = new TokenParser({ paths: ['$.format', '$.version', '$.records.*'], keepStack: false });
  private batch: LocatedRecord[] = [];
  private index: number;
  private skip: number;
  private sawFormat: boolean;
  private sawRecords: boolean;
  private done = false;
  private depth = 0;
  private expectKey = false;
  next?: Mode;

  constructor(private readonly reader: ImageReader, startIndex: number, placeholder: string, firstText?: string) {
    const resumed = startIndex > 0 || placeholder !== '' || firstText !== undefined;
    this.index = startIndex - (placeholder ? 1 : 0);
    this.skip = placeholder ? 1 : 0;
    this.sawFormat = resumed;
    this.sawRecords = resumed;
    this.parser.onValue = ({ value, key, stack }) => this.onValue(value, key, stack.length);
    // Wired as JSONParser wires them, with a look at each token on the way.
    this.tokenizer.onToken = (t) => {
      this.watch(t.token, t.value);
      this.parser.write(t);
    };
    this.tokenizer.onEnd = () => {
      if (!this.parser.isEnded) this.parser.end();
    };
    this.parser.onError = this.tokenizer.error.bind(this.tokenizer);
    this.parser.onEnd = () => {
      this.done = true;
      if (!this.tokenizer.isEnded) this.tokenizer.end();
    };
    if (resumed) this.write(DOCUMENT_HEAD + placeholder + (firstText ?? ''));
  }

  feed(text: string): LocatedRecord[] {
    this.write(text);
    const out = this.batch;
    this.batch = [];
    return out;
  }

  finish(text: string): LocatedRecord[] {
    this.write(text);
    if (!this.done) this.reader.fail(this.index, '', 'the document ends early (truncated?)');
    if (!this.sawFormat) this.reader.headerError('/format', 'is missing: this is not a ckptdb image');
    if (!this.sawRecords) this.reader.headerError('/records', 'is missing');
    this.reader.finishChecks(this.index);
    const out = this.batch;
    this.batch = [];
    return out;
  }

  private write(text: string): void {
    if (text === '') return;
    if (this.done) {
      if (text.trim() !== '') this.reader.headerError(`/records/${this.index}`, 'text after the end of the document');
      return;
    }
    try {
      this.tokenizer.write(text);
    } catch (e) {
      if (e instanceof CkptdbError) throw e;
      this.reader.fail(this.index, '', `malformed JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
    }
  }

  /** The root must be an object with the image's three fields, no others. */
  private watch(token: number, value: unknown): void {
    const LEFT_BRACE = 0, RIGHT_BRACE = 1, LEFT_BRACKET = 2, RIGHT_BRACKET = 3, COMMA = 5, STRING = 9;
    if (this.depth === 0 && token !== LEFT_BRACE) this.reader.headerError('/', 'an image is a JSON object {format, version, records}');
    if (this.depth === 1 && this.expectKey && token === STRING) {
      if (!TOP_LEVEL_KEYS.has(value as string)) this.reader.headerError(`/${escapePointer(value as string)}`, 'is not a field of an image (format, version, records)');
      if (value === 'records') this.sawRecords = true;
    }
    if (token === LEFT_BRACE || token === LEFT_BRACKET) this.depth++;
    else if (token === RIGHT_BRACE || token === RIGHT_BRACKET) this.depth--;
    this.expectKey = this.depth === 1 && (token === LEFT_BRACE || token === COMMA);
  }

  private onValue(value: unknown, key: string | number | undefined, depth: number): void {
    if (depth === 1) {
      if (key === 'format') {
        if (value !== IMAGE_FORMAT) this.reader.headerError('/format', `is ${JSON.stringify(value)}, not ${JSON.stringify(IMAGE_FORMAT)}: this is not a ckptdb image`);
        this.sawFormat = true;
      } else if (key === 'version') {
        if (value !== IMAGE_VERSION) this.reader.headerError('/version', `${JSON.stringify(value)} is not a version this ckptdb reads (it reads ${IMAGE_VERSION})`);
      }
      return;
    }
    if (this.skip > 0) {
      this.skip--;
      this.index++;
      return;
    }
    this.reader.accept(value, this.index++, this.batch);
  }
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function headerMessage(pointer: string, message: string): string {
  if (pointer === '/format') return `${message}: this is not a ckptdb image`;
  if (pointer === '/version') return `${message}: this ckptdb reads version ${IMAGE_VERSION}`;
  return message;
}
