// Input records from text files (one record per line) or JSON Lines, from files or stdin.
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { InputHasher } from '../jobs/fingerprint.js';
import { AlbertEmbedError, InputError, errorMessage } from '../errors.js';
import { readCsv } from './csv.js';
import { formatOf, type InputFormat } from './formats.js';
import { readParquet } from './parquet.js';
import { rawMember } from './json-raw.js';
import { readLines } from './lines.js';
import { JsonNumber, type RecordId } from './record-id.js';

export interface TextRecord {
  id: RecordId;
  text: string;
  /** The text is the start of a longer line that was not read in full (see InputSpec.maxTextBytes). */
  cut: boolean;
  /** Where the record is, for messages: `file:line`, `<stdin>:line`, `file row N` (Parquet, from 0). */
  place: string;
  /** Input bytes read up to the end of this record, over all inputs so far. */
  bytesEnd: number;
}

export interface InputSpec {
  /** File paths; '-' is stdin. */
  files: readonly string[];
  format: InputFormat;
  textField: string;
  idField?: string;
  /** CSV, TSV and Parquet columns: by header name or 0-based index. */
  textColumn: string;
  idColumn?: string;
  stdin: Readable;
  /**
   * Bytes of a text line worth reading: past them the line is validated and skipped, and its
   * record marked cut. JSON Lines records are always read whole (a field may follow the text).
   */
  maxTextBytes?: number;
  /** Sees every input byte as it is read (the input's fingerprint). */
  hasher?: InputHasher;
}

export const STDIN_NAME = '<stdin>';

/** Fails fast, before the model loads, when an input file is missing or unreadable. */
export function checkInputs(files: readonly string[]): void {
  for (const file of files) {
    if (file === '-') continue;
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      throw new InputError(`input file ${file} cannot be read: ${errorMessage(err)}`, 'check the path; use - to read stdin', { cause: err });
    }
    if (!isFile) throw new InputError(`input ${file} is not a regular file`, 'pass text or JSON Lines files, or - for stdin');
  }
}

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v);

/** The id of a JSON Lines record: strings as they are, numbers exactly as written. */
function jsonId(record: Record<string, unknown>, line: string, field: string, where: string): RecordId {
  const raw = Object.hasOwn(record, field) ? record[field] : undefined;
  const hint = 'name the id field with --id-field, or leave it out to number records from 0';
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') {
    const text = rawMember(line, field)!;
    if (!Number.isFinite(raw)) throw new InputError(`${where}: field "${field}" is ${text}, which is not a finite number`, 'ids must be strings or finite numbers');
    return new JsonNumber(text);
  }
  throw new InputError(`${where}: field "${field}" is ${raw === undefined ? 'missing' : typeName(raw)}; ids must be strings or numbers`, hint);
}

function jsonRecord(text: string, where: string, spec: InputSpec, index: number): { id: RecordId; text: string } | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where}: invalid JSON: ${errorMessage(err)}`, 'each line of a JSON Lines file must be one JSON object; use --input-format text for plain text', { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${where}: expected a JSON object, got ${typeName(value)}`);
  }
  const record = value as Record<string, unknown>;
  // Own fields only: "constructor" or "__proto__" must not find what every object inherits.
  const body = Object.hasOwn(record, spec.textField) ? record[spec.textField] : undefined;
  if (body === undefined) {
    throw new InputError(`${where}: no "${spec.textField}" field (fields: ${Object.keys(record).join(', ') || 'none'})`, 'name the text field with --text-field');
  }
  if (typeof body !== 'string') throw new InputError(`${where}: field "${spec.textField}" is ${typeName(body)}, not a string`, 'name the text field with --text-field');
  return { id: spec.idField === undefined ? index : jsonId(record, text, spec.idField, where), text: body };
}

/**
 * A read that fails part-way (the file deleted or replaced by a folder since it was checked, an
 * I/O error) is an input error naming the file, not an internal one.
 */
async function* readFailures<T>(lines: AsyncGenerator<T>, source: string): AsyncGenerator<T> {
  try {
    yield* lines;
  } catch (err) {
    if (err instanceof AlbertEmbedError) throw err;
    throw new InputError(`input ${source} cannot be read: ${errorMessage(err)}`, 'check that the file stays in place and readable while albert-embed runs', { cause: err });
  }
}

/** The chunks of `stream`, each shown to `hasher` on the way through. */
async function* tapped(stream: AsyncIterable<Buffer | string>, hasher: InputHasher): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hasher.update(bytes);
    yield bytes;
  }
}

/** Total bytes of the inputs, or undefined when one of them is stdin. */
export function totalBytes(files: readonly string[]): number | undefined {
  if (files.includes('-')) return undefined;
  return files.reduce((sum, f) => sum + statSync(f).size, 0);
}

/** The records of one line-based input (text or JSON Lines); `index` is the first record's number. */
async function* lineRecords(stream: Readable, source: string, format: 'text' | 'jsonl', spec: InputSpec, first: number): AsyncGenerator<TextRecord> {
  let index = first;
  for await (const line of readLines(stream, source, { maxLineBytes: format === 'text' ? spec.maxTextBytes : undefined })) {
    const place = `${source}:${line.number}`;
    if (format === 'text') {
      yield { id: index++, text: line.text, cut: line.cut, place, bytesEnd: line.end };
      continue;
    }
    const record = jsonRecord(line.text, place, spec, index);
    if (record) {
      index++;
      yield { ...record, cut: false, place, bytesEnd: line.end };
    }
  }
}

/** The records of one table input (CSV, TSV, Parquet): rows, ids from --id-column or numbered. */
async function* tableRecords(file: string, stream: () => Readable, source: string, format: 'csv' | 'tsv' | 'parquet', spec: InputSpec, first: number): AsyncGenerator<TextRecord> {
  const columns = { text: spec.textColumn, id: spec.idColumn };
  // Parquet is read by byte ranges, not in order: its fingerprint takes one read of its own.
  if (format === 'parquet') await spec.hasher?.wholeFile(file);
  const rows = format === 'parquet' ? readParquet(file, columns) : readCsv(stream(), source, format === 'csv' ? ',' : '\t', columns);
  let index = first;
  for await (const row of rows) {
    yield { id: row.id ?? index, text: row.text, cut: false, place: row.place, bytesEnd: row.bytes };
    index++;
  }
}

/** Records of every input in order; ids default to the record's 0-based position overall. */
export async function* readRecords(spec: InputSpec): AsyncGenerator<TextRecord> {
  let index = 0;
  let before = 0;
  for (const file of spec.files) {
    const source = file === '-' ? STDIN_NAME : file;
    const format = formatOf(file, spec.format);
    spec.hasher?.next();
    const raw = () => (file === '-' ? spec.stdin : createReadStream(file, { highWaterMark: 1 << 20 }));
    const stream = () => (spec.hasher ? Readable.from(tapped(raw(), spec.hasher), { objectMode: false }) : raw());
    const records = format === 'text' || format === 'jsonl' ? lineRecords(stream(), source, format, spec, index) : tableRecords(file, stream, source, format, spec, index);
    let end = 0;
    for await (const record of readFailures(records, source)) {
      end = record.bytesEnd;
      index++;
      yield { ...record, bytesEnd: before + end };
    }
    before += file === '-' ? end : statSync(file).size;
  }
}
