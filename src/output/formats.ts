// The output formats, and which one a path asks for.
import { extname } from 'node:path';

export const OUTPUT_FORMATS = ['npy', 'npz', 'jsonl'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** '-' is JSON Lines on stdout; otherwise the extension decides (.ndjson is JSON Lines too). */
export function formatFromPath(path: string): OutputFormat | undefined {
  if (path === '-') return 'jsonl';
  const ext = extname(path.replace(/[/\\]+$/, '')).toLowerCase().slice(1);
  if (ext === 'ndjson') return 'jsonl';
  return (OUTPUT_FORMATS as readonly string[]).includes(ext) ? (ext as OutputFormat) : undefined;
}
