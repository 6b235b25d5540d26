import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32 } from './float16.js';

describe('float16BitsToFloat32', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN', () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00]);
    const out = Array.from(float16BitsToFloat32(bits));
    expect(out.slice(0, 5)).toEqual([1, -2, Math.fround(0.333251953125), 65504, 2 ** -24]);
    expect(Object.is(out[5], 0)).toBe(true);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(out.slice(7, 9)).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(out[9])).toBe(true);
  });
});
