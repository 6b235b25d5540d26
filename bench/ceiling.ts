// The machine's practical limit for this model: GFLOP/s of one MatMul in onnxruntime, same
// threads, for each weight shape of the encoder ([M, H] x [H, H] for Q/K/V/output,
// [M, H] x [H, F] and [M, F] x [F, H] for the feed-forward pair) at several M. The best median
// over all of them is the ceiling that albert-embed's useful GFLOP/s is compared against: the
// most favourable figure for the ceiling, so the least favourable for albert-embed.
// Three kinds: fp32 MatMul; int8, MatMulInteger of uint8 by int8 already quantized (the bare
// integer product, MLAS's u8s8 kernels: the int8 ceiling); and int8-dynamic, the
// DynamicQuantizeMatMul the int8 graph runs (float in, float out: quantizing A included).
// int8-u8u8 and int8-s8s8 are the other signedness pairs of MatMulInteger, for comparison.
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
  kind: CeilingKind;
  threads: number;
  points: CeilingPoint[];
  gflops: number;
}

export type CeilingKind = 'fp32' | 'int8' | 'int8-dynamic' | 'int8-u8u8' | 'int8-s8s8';

function matmulGraph(k: number, n: number, kind: CeilingKind): OnnxModel {
  const random = uniform(99);
  const float = kind === 'fp32' || kind === 'int8-dynamic';
  const byte = () => Math.floor(random() * 256);
  const b =
    kind === 'fp32'
      ? tensor('b', [k, n], Float32Array.from({ length: k * n }, () => random() * 0.04 - 0.02))
      : kind === 'int8-u8u8'
        ? tensor('b', [k, n], Uint8Array.from({ length: k * n }, byte))
        : tensor('b', [k, n], Int8Array.from({ length: k * n }, () => byte() - 128));
  const node =
    kind === 'fp32'
      ? { op: 'MatMul', name: 'MatMul_0', inputs: ['a', 'b'], outputs: ['c'] }
      : kind === 'int8-dynamic'
        ? { op: 'DynamicQuantizeMatMul', domain: 'com.microsoft', name: 'DynamicQuantizeMatMul_0', inputs: ['a', 'b', 'scale'], outputs: ['c'] }
        : { op: 'MatMulInteger', name: 'MatMulInteger_0', inputs: ['a', 'b'], outputs: ['c'] };
  return {
    irVersion: 8,
    producerName: 'albert-embed bench',
    producerVersion: '1',
    opsetImports: [{ domain: '', version: 17 }, ...(kind === 'int8-dynamic' ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph: {
      name: 'matmul',
      nodes: [node],
      initializers: [b, ...(kind === 'int8-dynamic' ? [tensor('scale', [n], new Float32Array(n).fill(1e-3))] : [])],
      inputs: [{ name: 'a', elemType: float ? DataType.FLOAT : kind === 'int8-s8s8' ? DataType.INT8 : DataType.UINT8, shape: ['m', k] }],
      outputs: [{ name: 'c', elemType: float ? DataType.FLOAT : DataType.INT32, shape: ['m', n] }],
    },
  };
}

async function measureShape(workDir: string, k: number, n: number, threads: number, sizes: readonly number[], kind: CeilingKind): Promise<CeilingPoint[]> {
  const path = join(workDir, `matmul-${kind}-${k}x${n}.onnx`);
  writeOnnxModel(path, matmulGraph(k, n, kind));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const points: CeilingPoint[] = [];
  try {
    for (const m of sizes) {
      // Activations spread over their range, as after a LayerNorm (a constant A would quantize to one value).
      const random = uniform(m);
      const byte = () => Math.floor(random() * 256);
      const a =
        kind === 'fp32' || kind === 'int8-dynamic'
          ? new ort.Tensor('float32', Float32Array.from({ length: m * k }, () => random() * 2 - 1), [m, k])
          : kind === 'int8-s8s8'
            ? new ort.Tensor('int8', Int8Array.from({ length: m * k }, () => byte() - 128), [m, k])
            : new ort.Tensor('uint8', Uint8Array.from({ length: m * k }, byte), [m, k]);
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

export async function measureCeiling(workDir: string, hidden: number, intermediate: number, threads: number, kind: CeilingKind = 'fp32', sizes = [256, 512, 1024, 2048]): Promise<Ceiling> {
  mkdirSync(workDir, { recursive: true });
  const points: CeilingPoint[] = [];
  for (const [k, n] of [[hidden, hidden], [hidden, intermediate], [intermediate, hidden]]) points.push(...(await measureShape(workDir, k, n, threads, sizes, kind)));
  return { kind, threads, points, gflops: Math.max(...points.map((p) => p.medianGflops)) };
}
