// IEEE 754 half precision -> float32, for graphs whose outputs are float16 (Transformers.js
// fp16 and q4f16 exports). onnxruntime-node hands float16 data over as raw Uint16 bits.

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
