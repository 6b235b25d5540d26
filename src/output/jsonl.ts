// JSON Lines rendering of embedding rows: one object per record.
import { idJson } from '../input/record-id.js';
import type { RowBlock } from './sinks.js';

/** Shortest decimal that reads back as the same float32. */
export function formatFloat32(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  for (let digits = 6; digits < 9; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

export function jsonLines(block: RowBlock, dim: number): string {
  let text = '';
  for (let i = 0; i < block.ids.length; i++) {
    const values: string[] = new Array(dim);
    for (let d = 0; d < dim; d++) values[d] = formatFloat32(block.rows[i * dim + d]);
    text += `{"id":${idJson(block.ids[i])},"embedding":[${values.join(',')}],"tokens":${block.tokenCounts[i]},"truncated":${block.truncated[i]}}\n`;
  }
  return text;
}
