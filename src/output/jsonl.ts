// JSON Lines rendering of embedding rows: one object per record.
import { idJson } from '../input/record-id.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../model/float16.js';
import { encodeRows } from './precision.js';
import type { RowBlock, RowShape } from './sinks.js';

/** Shortest decimal that reads back as the same float32. */
export function formatFloat32(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (Object.is(x, -0)) return '-0';
  for (let digits = 6; digits < 9; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

/** Shortest decimal that reads back (as numpy reads it into float16) as the same half. */
export function formatFloat16(bits: number): string {
  const x = float16BitsToFloat32(Uint16Array.of(bits))[0];
  if (!Number.isFinite(x)) return 'null';
  if (Object.is(x, -0)) return '-0';
  for (let digits = 1; digits < 6; digits++) {
    const s = x.toPrecision(digits);
    if (float32ToFloat16Bits(Number(s)) === bits) return String(Number(s));
  }
  return String(x);
}

/** One vector in the shape's precision: a list of floats, halves, or packed bytes. */
function vector(values: Float32Array, shape: RowShape): string {
  const encoded = encodeRows(values, shape.dim, shape.precision);
  const parts: string[] = new Array(encoded.length);
  for (let i = 0; i < encoded.length; i++) {
    parts[i] = shape.precision === 'float32' ? formatFloat32(encoded[i]) : shape.precision === 'float16' ? formatFloat16(encoded[i]) : String(encoded[i]);
  }
  return `[${parts.join(',')}]`;
}

export function jsonLines(block: RowBlock, shape: RowShape): string {
  let text = '';
  const { dim } = shape;
  for (let i = 0; i < block.ids.length; i++) {
    let embedding: string;
    let tokenIds = '';
    if (block.tokens) {
      const m = block.tokens.vectors[i];
      const rows: string[] = [];
      for (let t = 0; t < m.length / dim; t++) rows.push(vector(m.subarray(t * dim, (t + 1) * dim), shape));
      embedding = `[${rows.join(',')}]`;
      tokenIds = `,"token_ids":[${Array.from(block.tokens.tokenIds[i]).join(',')}]`;
    } else {
      embedding = vector(block.rows!.subarray(i * dim, (i + 1) * dim), shape);
    }
    const chunks = shape.chunks ? `,"chunks":${block.chunks[i]}` : '';
    text += `{"id":${idJson(block.ids[i])},"embedding":${embedding}${tokenIds},"tokens":${block.tokenCounts[i]},"truncated":${block.truncated[i]}${chunks}}\n`;
  }
  return text;
}
