import { describe, expect, it } from 'vitest';
import { combineWindows, windowSequences, windowStarts } from './windows.js';

describe('windowStarts', () => {
  it.each<[number, number, number, number[]]>([
    [0, 10, 0, [0]], // the empty text: one window
    [10, 10, 0, [0]], // exactly W: one window
    [11, 10, 0, [0, 10]],
    [25, 10, 0, [0, 10, 20]],
    [24, 10, 3, [0, 7, 14]], // 14 + 10 >= 24: the last window reaches the end
    [25, 10, 3, [0, 7, 14, 21]], // ... and here it needs one more, of 4 tokens
  ])('%i tokens, W %i, K %i -> %j', (length, width, overlap, starts) => {
    expect(windowStarts(length, width, overlap)).toEqual(starts);
  });

  it('has 1 + ceil((len - W) / (W - K)) windows past W', () => {
    for (const [W, K] of [[10, 0], [10, 3], [510, 128], [7, 6]]) {
      for (let len = W + 1; len < W + 200; len += 7) {
        expect(windowStarts(len, W, K)).toHaveLength(1 + Math.ceil((len - W) / (W - K)));
      }
    }
  });
});

describe('windowSequences', () => {
  it('puts the special tokens around each window; the last may be shorter', () => {
    const content = Int32Array.from({ length: 7 }, (_, i) => 10 + i);
    expect(windowSequences(content, [2], [3], 4, 1).map((w) => Array.from(w))).toEqual([
      [2, 10, 11, 12, 13, 3],
      [2, 13, 14, 15, 16, 3],
    ]);
  });
});

describe('combineWindows', () => {
  const rows = Float32Array.from([1, 2, /* record 0 */ 3, 4, 5, 6, /* record 1: two windows */ 7, 8 /* record 2 */]);
  it('weighted mean, by each window token count', () => {
    expect(Array.from(combineWindows(rows, 2, [1, 2, 1], [9, 6, 2, 4], 'mean'))).toEqual([1, 2, (3 * 6 + 5 * 2) / 8, (4 * 6 + 6 * 2) / 8, 7, 8]);
  });
  it('element-wise max', () => {
    expect(Array.from(combineWindows(Float32Array.from([1, 9, 5, 2]), 2, [2], [1, 1], 'max'))).toEqual([5, 9]);
  });
});
