import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PYTHON } from '../../test/helpers.js';
import { float16BitsToFloat32, float32ToFloat16 } from './float16.js';

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

describe('float32ToFloat16', () => {
  it('rounds as numpy astype(float16) does, ties to even, over/underflow included', () => {
    // Every half's value, the midpoints between neighbours (the ties) and points either side of them.
    const halves = float16BitsToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i)).filter((v) => Number.isFinite(v));
    const values = new Float32Array([...halves, ...Array.from({ length: 4000 }, (_, i) => Math.fround((i - 2000) * 16.37 + 1e-3 * i)), 65519.99, 65520, 1e-8, 2 ** -25, 3 * 2 ** -26, 1e9, -1e9, NaN, Infinity]);
    for (let i = 0; i + 1 < halves.length; i += 97) {
      const mid = (halves[i] + halves[i + 1]) / 2;
      values.set([mid, Math.fround(mid * (1 + 2 ** -20))], i % 2000);
    }
    const script = 'import sys, numpy\nx = numpy.frombuffer(sys.stdin.buffer.read(), "<f4")\nsys.stdout.buffer.write(x.astype("<f2").tobytes())';
    const r = spawnSync(PYTHON, ['-c', script], { input: Buffer.from(values.buffer) });
    expect(r.status, String(r.stderr)).toBe(0);
    const expected = new Uint16Array(new Uint8Array(r.stdout).buffer);
    const got = float32ToFloat16(values);
    const mismatches = [...got].map((g, i) => [values[i], g, expected[i]]).filter(([, g, e]) => g !== e);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});
