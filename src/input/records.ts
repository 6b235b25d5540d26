// Input records from text files (one record per line) or JSON Lines, from files or stdin.
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { InputError, errorMessage } from '../errors.js';
import type { RecordId } from '../output/sinks.js';
import { readLines } from './lines.js';

export type InputFormat = 'auto' | 'text' | 'jsonl';
export const INPUT_FORMATS: readonly InputFormat[] = ['auto', 'text', 'jsonl'];

export interface TextRecord {
  id: RecordId;
  text: string;
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
}

export const STDIN_NAME = '<stdin>';

export function formatOf(file: string, requested: InputFormat): 'text' | 'jsonl' {
  if (requested !== 'auto') return requested;
  const ext = extname(file).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'text';
}

/** Fails fast, before the model loads, when an input file is missing or unreadable. */
export function checkInputs(files: readonly string[]): void {
  for (const file of files) {
    if (file === '-') continue;
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      throw new InputError(`input file ${file} cannot be read: ${errorMessage(err)}`, 'check the path; use - to read stdin');
    }
    if (!isFile) throw new InputError(`input ${file} is not a regular file`, 'pass text or JSON Lines files, or - for stdin');
  }
}

function jsonRecord(text: string, where: string, spec: InputSpec, index: number): Omit<TextRecord, 'bytesEnd'> | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where}: invalid JSON: ${errorMessage(err)}`, 'each line of a JSON Lines file must be one JSON object; use --input-format text for plain text');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${where}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  const record = value as Record<string, unknown>;
  const body = record[spec.textField];
  if (body === undefined) {
    throw new InputError(`${where}: no "${spec.textField}" field (fields: ${Object.keys(record).join(', ') || 'none'})`, 'name the text field with --text-field');
  }
  if (typeof body !== 'string') throw new InputError(`${where}: field "${spec.textField}" is ${typeof body}, not a string`, 'name the text field with --text-field');
  let id: RecordId = index;
  if (spec.idField !== undefined) {
    const raw = record[spec.idField];
    if (typeof raw !== 'string' && typeof raw !== 'number') {
      throw new InputError(`${where}: field "${spec.idField}" is ${raw === undefined ? 'missing' : typeof raw}; ids must be strings or numbers`, 'name the id field with --id-field, or leave it out to number records from 0');
    }
    id = raw;
  }
  return { id, text: body };
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
    for await (const line of readLines(stream, source)) {
      end = line.end;
      if (format === 'text') {
        yield { id: index++, text: line.text, bytesEnd: before + end };
      } else {
        const record = jsonRecord(line.text, `${source}:${line.number}`, spec, index);
        if (record) {
          index++;
          yield { ...record, bytesEnd: before + end };
        }
      }
    }
    before += end;
  }
}
