import { describe, expect, it } from 'vitest';
import { l2NormalizeRows, poolInto } from './pooling.js';

// A [batch, seqLen, dim] tensor whose padding positions hold huge values: any pooling that reads
// padding would move its row by ~1e6.
function batchWithGarbagePadding(rows: number[][][], seqLen: number, dim: number): Float32Array {
  const hidden = new Float32Array(rows.length * seqLen * dim).fill(1e6);
  rows.forEach((tokens, b) => tokens.forEach((vec, t) => hidden.set(vec, (b * seqLen + t) * dim)));
  return hidden;
}

describe('poolInto', () => {
  const dim = 3;
  const short = [[1, 2, 3], [3, -2, 1]];
  const long = [[0, 0, 0], [1, 1, 1], [2, -4, 8], [-1, 5, 0]];

  it.each(['mean', 'cls', 'max'] as const)('%s: padding never changes a row', (pooling) => {
    const alone = new Float32Array(dim);
    poolInto(pooling, batchWithGarbagePadding([short], 2, dim), 2, dim, [2], alone, [0]);
    const padded = new Float32Array(2 * dim);
    poolInto(pooling, batchWithGarbagePadding([short, long], 4, dim), 4, dim, [2, 4], padded, [0, 1]);
    expect(Array.from(padded.subarray(0, dim))).toEqual(Array.from(alone));
  });

  it('mean averages real tokens only', () => {
    const out = new Float32Array(dim);
    poolInto('mean', batchWithGarbagePadding([short], 5, dim), 5, dim, [2], out, [0]);
    expect(Array.from(out)).toEqual([2, 0, 2]);
  });

  it('max takes the element-wise maximum over real tokens', () => {
    const out = new Float32Array(dim);
    poolInto('max', batchWithGarbagePadding([long], 6, dim), 6, dim, [4], out, [0]);
    expect(Array.from(out)).toEqual([2, 5, 8]);
  });

  it('cls takes the first token', () => {
    const out = new Float32Array(dim);
    poolInto('cls', batchWithGarbagePadding([long], 4, dim), 4, dim, [4], out, [0]);
    expect(Array.from(out)).toEqual([0, 0, 0]);
  });

  it('writes each batch row to its output row', () => {
    const out = new Float32Array(2 * dim);
    poolInto('cls', batchWithGarbagePadding([short, long], 4, dim), 4, dim, [2, 4], out, [1, 0]);
    expect(Array.from(out)).toEqual([0, 0, 0, 1, 2, 3]);
  });
});

describe('l2NormalizeRows', () => {
  it('scales rows to unit length and leaves zero rows alone', () => {
    const rows = Float32Array.from([3, 4, 0, 0]);
    l2NormalizeRows(rows, 2);
    expect(Array.from(rows)).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 0]);
  });
});
