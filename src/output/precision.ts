// --precision: the numbers a row is written as. float16 is the IEEE half nearest each float32
// value (ties to even, numpy's astype(float16)); ubinary is numpy.packbits(row > 0) per row, the
// sign bits packed eight to a byte, first value in the high bit, zero-padded at the end, as
// sentence-transformers' quantize_embeddings(precision="ubinary") makes it.
import { float32ToFloat16 } from '../model/float16.js';
import type { Precision } from '../options.js';
import type { NpyDescr } from './npy.js';


/** Values a row of `dim` floats takes up on disk under `precision`. */
export function rowWidth(precision: Precision, dim: number): number {
  return precision === 'ubinary' ? Math.ceil(dim / 8) : dim;
}

export function precisionDescr(precision: Precision): NpyDescr {
  switch (precision) {
    case 'float32':
      return '<f4';
    case 'float16':
      return '<f2';
    case 'ubinary':
      return '|u1';
    default: {
      const never: never = precision;
      throw new Error(`unhandled precision ${never}`);
    }
  }
}

/** packbits(rows > 0) along each row of `dim` values. */
function packSigns(rows: Float32Array, dim: number): Uint8Array {
  const width = Math.ceil(dim / 8);
  const count = rows.length / dim;
  const out = new Uint8Array(count * width);
  for (let r = 0; r < count; r++) {
    for (let d = 0; d < dim; d++) if (rows[r * dim + d] > 0) out[r * width + (d >> 3)] |= 0x80 >> (d & 7);
  }
  return out;
}

/** Rows of `dim` float32 values as they are stored: float32, float16 bits or packed sign bits. */
export function encodeRows(rows: Float32Array, dim: number, precision: Precision): Float32Array | Uint16Array | Uint8Array {
  switch (precision) {
    case 'float32':
      return rows;
    case 'float16':
      return float32ToFloat16(rows);
    case 'ubinary':
      return packSigns(rows, dim);
    default: {
      const never: never = precision;
      throw new Error(`unhandled precision ${never}`);
    }
  }
}

export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
