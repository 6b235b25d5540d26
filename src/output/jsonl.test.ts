import { describe, expect, it } from 'vitest';
import { formatFloat32, jsonLines } from './jsonl.js';

describe('formatFloat32', () => {
  it.each([0.1, -1.5, 3.4028234663852886e38, 1e-45, 0, 0.123456789, -7.0000001])('%f reads back as the same float32', (v) => {
    const x = Math.fround(v);
    expect(Math.fround(Number(formatFloat32(x)))).toBe(x);
  });

  it('writes short decimals, and null for non-finite values', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(Math.fround(0.5))).toBe('0.5');
    expect(formatFloat32(NaN)).toBe('null');
  });
});

describe('jsonLines', () => {
  it('writes one object per row with id, embedding, tokens and truncated', () => {
    const text = jsonLines({ rows: Float32Array.from([1, 0.5, -2, 0.25]), ids: ['a', 7], tokenCounts: [3, 9], truncated: [false, true] }, 2);
    expect(text).toBe('{"id":"a","embedding":[1,0.5],"tokens":3,"truncated":false}\n{"id":7,"embedding":[-2,0.25],"tokens":9,"truncated":true}\n');
  });
});
