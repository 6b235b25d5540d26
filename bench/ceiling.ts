// The machine's practical limit for this model: GFLOP/s of one MatMul in onnxruntime, same
// threads, for each weight shape of the encoder ([M, H] x [H, H] for Q/K/V/output,
// [M, H] x [H, F] and [M, F] x [F, H] for the feed-forward pair) at several M. The best median
// over all of them is the ceiling that albert-embed's useful GFLOP/s is compared against: the
// most favourable figure for the ceiling, so the least favourable for albert-embed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType, type OnnxModel, tensor, writeOnnxModel } from '../src/graph/onnx.js';
import { uniform } from '../tools/fixture-builder/weights.js';

export interface CeilingPoint {
  m: number;
  k: number;
  n: number;
  medianGflops: number;
}

export interface Ceiling {
  threads: number;
  points: CeilingPoint[];
  gflops: number;
}

function matmulGraph(k: number, n: number): OnnxModel {
  const random = uniform(99);
  const weights = Float32Array.from({ length: k * n }, () => random() * 0.04 - 0.02);
  return {
    irVersion: 8,
    producerName: 'albert-embed bench',
    producerVersion: '1',
    opsetImports: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      nodes: [{ op: 'MatMul', name: 'MatMul_0', inputs: ['a', 'b'], outputs: ['c'] }],
      initializers: [tensor('b', [k, n], weights)],
      inputs: [{ name: 'a', elemType: DataType.FLOAT, shape: ['m', k] }],
      outputs: [{ name: 'c', elemType: DataType.FLOAT, shape: ['m', n] }],
    },
  };
}

async function measureShape(workDir: string, k: number, n: number, threads: number, sizes: readonly number[]): Promise<CeilingPoint[]> {
  const path = join(workDir, `matmul-${k}x${n}.onnx`);
  writeOnnxModel(path, matmulGraph(k, n));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const points: CeilingPoint[] = [];
  try {
    for (const m of sizes) {
      const a = new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]);
      for (let i = 0; i < 3; i++) await session.run({ a });
      const times: number[] = [];
      for (let i = 0; i < 11; i++) {
        const t = performance.now();
        await session.run({ a });
        times.push((performance.now() - t) / 1000);
      }
      times.sort((x, y) => x - y);
      points.push({ m, k, n, medianGflops: (2 * m * k * n) / times[5] / 1e9 });
    }
  } finally {
    await session.release();
  }
  return points;
}

export async function measureCeiling(workDir: string, hidden: number, intermediate: number, threads: number, sizes = [256, 512, 1024, 2048]): Promise<Ceiling> {
  mkdirSync(workDir, { recursive: true });
  const points: CeilingPoint[] = [];
  for (const [k, n] of [[hidden, hidden], [hidden, intermediate], [intermediate, hidden]]) points.push(...(await measureShape(workDir, k, n, threads, sizes)));
  return { threads, points, gflops: Math.max(...points.map((p) => p.medianGflops)) };
}
