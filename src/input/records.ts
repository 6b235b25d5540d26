// Input records from text files (one record per line) or JSON Lines, from files or stdin.
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { InputError, errorMessage } from '../errors.js';
import { formatOf, type InputFormat } from './formats.js';
import { rawMember } from './json-raw.js';
import { readLines } from './lines.js';
import { JsonNumber, type RecordId } from './record-id.js';

export interface TextRecord {
  id: RecordId;
  text: string;
  /** The text is the start of a longer line that was not read in full (see InputSpec.maxTextBytes). */
  cut: boolean;
  /** Where the record is, for messages: `file:line` or `<stdin>:line`. */
  source: string;
  line: number;
  /** Input bytes read up to the end of this record, over all inputs so far. */
  bytesEnd: number;
}

export interface InputSpec {
  /** File paths; '-' is stdin. */
  files: readonly string[];
  format: InputFormat;
  textField: string;
  idField?: string;
  stdin: Readable;
  /**
   * Bytes of a text line worth reading: past them the line is validated and skipped, and its
   * record marked cut. JSON Lines records are always read whole (a field may follow the text).
   */
  maxTextBytes?: number;
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
  const raw = record[field];
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
    throw new InputError(`${where}: invalid JSON: ${errorMessage(err)}`, 'each line of a JSON Lines file must be one JSON object; use --input-format text for plain text');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${where}: expected a JSON object, got ${typeName(value)}`);
  }
  const record = value as Record<string, unknown>;
  const body = record[spec.textField];
  if (body === undefined) {
    throw new InputError(`${where}: no "${spec.textField}" field (fields: ${Object.keys(record).join(', ') || 'none'})`, 'name the text field with --text-field');
  }
  if (typeof body !== 'string') throw new InputError(`${where}: field "${spec.textField}" is ${typeName(body)}, not a string`, 'name the text field with --text-field');
  return { id: spec.idField === undefined ? index : jsonId(record, text, spec.idField, where), text: body };
}

/** Total bytes of the inputs, or undefined when one of them is stdin. */
export function totalBytes(files: readonly string[]): number | undefined {
  if (files.includes('-')) return undefined;
  return files.reduce((sum, f) => sum + statSync(f).size, 0);
}

/** Records of every input in order; ids default to the record's 0-based position overall. */
export async function* readRecords(spec: InputSpec): AsyncGenerator<TextRecord> {
  let index = 0;
  let before = 0;
  for (const file of spec.files) {
    const source = file === '-' ? STDIN_NAME : file;
    const format = formatOf(file, spec.format);
    const stream = file === '-' ? spec.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
    let end = 0;
    const lines = readLines(stream, source, { maxLineBytes: format === 'text' ? spec.maxTextBytes : undefined });
    for await (const line of lines) {
      end = line.end;
      if (format === 'text') {
        yield { id: index++, text: line.text, cut: line.cut, source, line: line.number, bytesEnd: before + end };
      } else {
        const record = jsonRecord(line.text, `${source}:${line.number}`, spec, index);
        if (record) {
          index++;
          yield { ...record, cut: false, source, line: line.number, bytesEnd: before + end };
        }
      }
    }
    before += end;
  }
}
