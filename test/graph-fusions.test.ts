// The graphs are spelled so that onnxruntime's own fusions fire (what the bench's speed rests
// on): counted in the graph onnxruntime writes back with optimizedModelFilePath, at level 'all'.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { AlbertActivation } from '../src/graph/albert-config.js';
import { countNodeTypes } from '../src/graph/onnx-reader.js';
import { buildModelFolder, TINY_EN } from '../tools/fixture-builder/build.js';
import { tempDir } from './helpers.js';

async function optimizedCounts(hiddenAct: AlbertActivation, hiddenStates = false): Promise<Record<string, number>> {
  const dir = tempDir();
  buildModelFolder(dir, { ...TINY_EN, hiddenAct, hiddenStates });
  const optimized = join(dir, 'optimized.onnx');
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), { graphOptimizationLevel: 'all', intraOpNumThreads: 1, logSeverityLevel: 3, optimizedModelFilePath: optimized });
  await session.release();
  return countNodeTypes(readFileSync(optimized));
}

// albert-tiny: 4 layers of 2 inner layers, so 8 layer applications in the unrolled graph, each
// with one feed-forward activation and the scaled QK^T MatMul.
const APPLICATIONS = 8;

describe('onnxruntime fusions on the written graphs', () => {
  it('gelu_new: FastGelu (its bias Add absorbed) and FusedMatMul', async () => {
    const counts = await optimizedCounts('gelu_new');
    expect(counts['com.microsoft:FastGelu']).toBe(APPLICATIONS);
    expect(counts['com.microsoft:FusedMatMul']).toBe(APPLICATIONS);
    expect([counts.Tanh, counts.Pow]).toEqual([undefined, undefined]);
  });

  it('gelu: BiasGelu (Gelu with its bias Add) and FusedMatMul', async () => {
    const counts = await optimizedCounts('gelu');
    expect(counts['com.microsoft:BiasGelu']).toBe(APPLICATIONS);
    expect(counts['com.microsoft:FusedMatMul']).toBe(APPLICATIONS);
    expect(counts.Erf).toBeUndefined();
  });

  it('no SkipLayerNormalization, which measures slower on CPU (see hiddenStateOutput in src/graph/albert.ts)', async () => {
    const counts = await optimizedCounts('gelu_new', true);
    expect(counts['com.microsoft:SkipLayerNormalization']).toBeUndefined();
    expect(counts.LayerNormalization).toBe(1 + 2 * APPLICATIONS);
  });

  it('hidden-state outputs leave the optimized graph as it is but for one Identity (two names, one value)', async () => {
    const plain = await optimizedCounts('gelu');
    expect(await optimizedCounts('gelu', true)).toEqual({ ...plain, Identity: (plain.Identity ?? 0) + 1 });
  });
});
