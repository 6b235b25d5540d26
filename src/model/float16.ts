// IEEE 754 half precision <-> float32. Decoding serves graphs whose outputs are float16
// (Transformers.js fp16 and q4f16 exports: onnxruntime-node hands them over as raw Uint16 bits)
// and float16 checkpoint storages; encoding serves float16 outputs on disk.

let table: Float32Array | undefined;

function decodeAll(): Float32Array {
  // All 65,536 halves decoded once, on first use (fp32 runs never pay): 256 KB buys a
  // branch-free lookup per element.
  const out = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[h] = sign * 2 ** -14 * (fraction / 1024);
    else if (exponent === 0x1f) out[h] = fraction ? NaN : sign * Infinity;
    else out[h] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return out;
}

export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  table ??= decodeAll();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half nearest to a float32, ties to even (numpy's astype(float16)); NaN stays NaN. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0);
  // Re-bias from 127 to 15.
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in, round to nearest even on the way out.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let m = mantissa >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mantissa & 0x1fff;
  let m = mantissa >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function float32ToFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]);
  return out;
}
