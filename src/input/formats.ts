// The input formats, and which one a file is read as.
import { extname } from 'node:path';

export const INPUT_FORMATS = ['auto', 'text', 'jsonl', 'csv', 'tsv', 'parquet'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
/** What `auto` resolves to for one file. */
export type FileFormat = Exclude<InputFormat, 'auto'>;

const BY_EXTENSION: Readonly<Record<string, FileFormat>> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** `auto` goes by extension (stdin and anything else are text lines). */
export function formatOf(file: string, requested: InputFormat): FileFormat {
  if (requested !== 'auto') return requested;
  return (file !== '-' && BY_EXTENSION[extname(file).toLowerCase()]) || 'text';
}

/** Formats whose records are rows of named columns (--text-column, --id-column). */
export const TABLE_FORMATS: readonly FileFormat[] = ['csv', 'tsv', 'parquet'];
