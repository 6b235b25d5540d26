// The input formats, and which one a file is read as.
import { extname } from 'node:path';

export const INPUT_FORMATS = ['auto', 'text', 'jsonl'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
/** What `auto` resolves to for one file. */
export type FileFormat = Exclude<InputFormat, 'auto'>;

export function formatOf(file: string, requested: InputFormat): FileFormat {
  if (requested !== 'auto') return requested;
  const ext = extname(file).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'text';
}
