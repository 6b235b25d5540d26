import { describe, expect, it } from 'vitest';
import { float32ToFloat16Bits } from '../model/float16.js';
import { formatFloat16, formatFloat32, jsonLines } from './jsonl.js';
import type { RowShape } from './sinks.js';

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

describe('formatFloat16', () => {
  it('writes the shortest decimal that reads back as the same half, for every finite half', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      expect(float32ToFloat16Bits(Number(formatFloat16(bits))), String(bits)).toBe(bits);
    }
    expect(formatFloat16(float32ToFloat16Bits(0.1))).toBe('0.1');
    expect(formatFloat16(float32ToFloat16Bits(65504))).toBe('65500');
  });
});

const shape = (over: Partial<RowShape> = {}): RowShape => ({ dim: 2, precision: 'float32', tokens: false, chunks: false, ...over });

describe('jsonLines', () => {
  const block = { rows: Float32Array.from([1, 0.5, -2, 0.25]), ids: ['a', 7], tokenCounts: [3, 9], truncated: [false, true], chunks: [1, 2] };

  it('writes one object per row with id, embedding, tokens and truncated', () => {
    expect(jsonLines(block, shape())).toBe('{"id":"a","embedding":[1,0.5],"tokens":3,"truncated":false}\n{"id":7,"embedding":[-2,0.25],"tokens":9,"truncated":true}\n');
  });

  it('adds chunks, and writes halves or packed bits as asked', () => {
    expect(jsonLines(block, shape({ chunks: true, precision: 'float16' }))).toBe(
      '{"id":"a","embedding":[1,0.5],"tokens":3,"truncated":false,"chunks":1}\n{"id":7,"embedding":[-2,0.25],"tokens":9,"truncated":true,"chunks":2}\n',
    );
    // packbits([1 > 0, 0.5 > 0]) = 0b11000000; packbits([False, True]) = 0b01000000.
    expect(jsonLines(block, shape({ precision: 'ubinary' }))).toContain('"embedding":[192]');
    expect(jsonLines(block, shape({ precision: 'ubinary' }))).toContain('"embedding":[64]');
  });

  it('writes token vectors as a list of vectors with their token ids', () => {
    const tokens = { vectors: [Float32Array.from([1, 2, 3, 4]), Float32Array.from([5, 6])], tokenIds: [Int32Array.from([2, 3]), Int32Array.from([9])] };
    expect(jsonLines({ ...block, rows: undefined, tokens }, shape({ tokens: true }))).toBe(
      '{"id":"a","embedding":[[1,2],[3,4]],"token_ids":[2,3],"tokens":3,"truncated":false}\n{"id":7,"embedding":[[5,6]],"token_ids":[9],"tokens":9,"truncated":true}\n',
    );
  });
});
