// Weights for the checkpoint reader tests: every dtype the writers produce, with values whose
// float32 widening is known exactly (worked out by hand, not by the code under test).
import type { WeightMap } from '../tools/checkpoint-writers/index.js';

/** Every stored dtype the writers produce, with values whose float32 widening is known exactly. */
export function allDtypeWeights(): { weights: WeightMap; expected: Map<string, number[]> } {
  const weights: WeightMap = new Map([
    ['embeddings.word_embeddings.weight', { shape: [2, 3], data: new Float32Array([0.5, -1.25, 3e-8, 1e30, -0, 7]) }],
    // 1, -2, largest half, smallest subnormal half, 1/3 rounded to half, -0
    ['half', { shape: [6], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000]), bits: 'float16' as const }],
    // 1, 3.140625, -123.5, smallest subnormal bfloat16
    ['brain', { shape: [2, 2], data: new Uint16Array([0x3f80, 0x4049, 0xc2f7, 0x0001]), bits: 'bfloat16' as const }],
    ['double', { shape: [3], data: new Float64Array([0.1, 1e300, -2.5]) }],
    ['embeddings.position_ids', { shape: [1, 8], data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]) }],
    ['wide', { shape: [2], data: BigInt64Array.from([2n ** 40n, -3n]) }],
  ]);
  const expected = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [0.5, -1.25, Math.fround(3e-8), Math.fround(1e30), -0, 7]],
    ['half', [1, -2, 65504, 2 ** -24, 0.333251953125, -0]],
    ['brain', [1, 3.140625, -123.5, 2 ** -133]],
    // float64 rounds to the nearest float32; 1e300 overflows to infinity.
    ['double', [Math.fround(0.1), Infinity, -2.5]],
    ['embeddings.position_ids', [0, 1, 2, 3, 4, 5, 6, 7]],
    ['wide', [2 ** 40, -3]],
  ]);
  return { weights, expected };
}
