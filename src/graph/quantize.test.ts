import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { tempDir, TINY_EN } from '../../test/helpers.js';
import { TINY_EN as TINY_EN_SPEC } from '../../tools/fixture-builder/build.js';
import { countingWeightSource, generateWeights, weightSource } from '../../tools/fixture-builder/weights.js';
import type { AlbertConfig } from './albert-config.js';
import { buildAlbertGraph, type WeightSource } from './albert.js';
import { countNodeTypes, readOnnxModelFile } from './onnx-reader.js';
import { DataType, encodeOnnxModel, type OnnxModel, tensor, writeOnnxModel } from './onnx.js';
import { quantizeColumns, quantizeModel } from './quantize.js';

const config: AlbertConfig = { ...TINY_EN_SPEC.architecture, vocab_size: 50, hidden_act: 'gelu_new' };
const weights = generateWeights({ ...config, initializer_range: 0.1 }, 3);
// 4 layers in 2 groups of 2 inner layers: 4 distinct layers applied 8 times.
const APPLICATIONS = config.num_hidden_layers * config.inner_group_num;
const DISTINCT = config.num_hidden_groups * config.inner_group_num;

const counting = () => countingWeightSource(weights);

const graph = (source: WeightSource = weightSource(weights)) => buildAlbertGraph(config, source, { tokenTypeInput: true, poolerOutput: true });

describe('quantizeColumns', () => {
  const k = 5;
  const n = 3;
  // Column 0 spans [-2, 1], column 1 is all zeros, column 2 is positive only.
  const data = Float32Array.from([-2, 0, 0.5, 1, 0, 0.25, 0.5, 0, 1, -1, 0, 0.75, 0.3, 0, 0.1]);

  it('int8: one symmetric scale per column (max |w| / 127), values in [-127, 127], error at most half a step', () => {
    const q = quantizeColumns(data, k, n, 'int8');
    expect(Array.from(q.scales)).toEqual([2 / 127, 1, 1 / 127].map(Math.fround));
    expect(q.zeroPoints).toBeUndefined();
    for (let i = 0; i < data.length; i++) {
      const c = i % n;
      expect(Math.abs(q.values[i])).toBeLessThanOrEqual(127);
      expect(Math.abs(q.values[i] * q.scales[c] - data[i])).toBeLessThanOrEqual(q.scales[c] / 2 + 1e-7);
    }
    expect(q.values[0]).toBe(-127);
  });

  it('uint8: a zero point per column that represents 0 exactly, error at most half a step', () => {
    const q = quantizeColumns(data, k, n, 'uint8');
    for (let i = 0; i < data.length; i++) {
      const c = i % n;
      expect(Math.abs((q.values[i] - q.zeroPoints![c]) * q.scales[c] - data[i])).toBeLessThanOrEqual(q.scales[c] / 2 + 1e-6);
      if (data[i] === 0) expect(q.values[i]).toBe(q.zeroPoints![c]);
    }
  });

  it('rounds halves to even, as onnxruntime does', () => {
    // 0.5 and 1.5 steps of a column whose largest value is 127 steps.
    const q = quantizeColumns(Float32Array.from([127, 0.5, 1.5, 2.5]), 4, 1, 'int8');
    expect(Array.from(q.values)).toEqual([127, 0, 2, 2]);
  });
});

describe('quantizeModel', () => {
  it('reads nothing until written, then each float weight once, shared layers included', () => {
    const { source, reads } = counting();
    const { model, report } = quantizeModel(graph(source), { numHeads: config.num_attention_heads });
    expect(reads.size).toBe(0);
    encodeOnnxModel(model);
    expect([...reads.keys()].sort()).toEqual([...weights.keys()].sort());
    expect([...reads.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(report).toMatchObject({ attentionBlocks: APPLICATIONS, biasesFolded: 1 + 3 * APPLICATIONS + 1, keptFloat: [] });
  });

  it('without heads: every weight MatMul becomes DynamicQuantizeMatMul, each shared weight quantized once', () => {
    const { model, report } = quantizeModel(graph());
    const before = countNodeTypes(encodeOnnxModel(graph()));
    const counts = countNodeTypes(encodeOnnxModel(model));
    // The embedding projection, 6 per layer application, the pooler.
    const matmuls = 1 + 6 * APPLICATIONS + 1;
    expect(counts['com.microsoft:DynamicQuantizeMatMul']).toBe(matmuls);
    expect(counts.MatMul).toBe(2 * APPLICATIONS); // attention scores and context
    expect(counts.Add).toBe(before.Add - matmuls);
    const int8 = model.graph.initializers.filter((t) => t.dataType === DataType.INT8);
    expect(int8).toHaveLength(1 + 6 * DISTINCT + 1);
    expect(report).toMatchObject({ ops: ['com.microsoft:DynamicQuantizeMatMul'], matmuls, weights: int8.length, biasesFolded: matmuls, attentionBlocks: 0 });
    expect(model.graph.initializers.some((t) => t.dataType === DataType.FLOAT && t.dims.length === 2 && t.name.endsWith('.weight.T'))).toBe(false);
    // A quarter of the floats, plus 4 bytes of scale per column (a [K, N] weight with K = 32 here).
    expect(report.quantizedBytes).toBeGreaterThan(report.floatBytes / 4);
    expect(report.quantizedBytes).toBeLessThan(report.floatBytes / 3.5);
    expect(model.opsetImports).toContainEqual({ domain: 'com.microsoft', version: 1 });
  });

  it('with heads: each attention block becomes one QAttention; the three projections share one int8 weight per distinct layer', () => {
    const { model, report } = quantizeModel(graph(), { numHeads: config.num_attention_heads });
    const counts = countNodeTypes(encodeOnnxModel(model));
    expect(counts['com.microsoft:QAttention']).toBe(APPLICATIONS);
    expect(counts['com.microsoft:DynamicQuantizeMatMul']).toBe(1 + 3 * APPLICATIONS + 1);
    expect(counts.MatMul).toBeUndefined();
    expect(counts.Softmax).toBeUndefined();
    expect(counts.Transpose).toBeUndefined();
    const qkv = model.graph.initializers.filter((t) => t.dataType === DataType.INT8 && t.dims[1] === 3 * config.hidden_size);
    expect(qkv).toHaveLength(DISTINCT);
    expect(model.graph.initializers.filter((t) => t.dataType === DataType.INT8)).toHaveLength(DISTINCT + 3 * DISTINCT + 2);
    expect(report.ops).toEqual(['com.microsoft:DynamicQuantizeMatMul', 'com.microsoft:QAttention']);
    // One int32 mask for all blocks; the float mask bias nothing reads any more is gone.
    expect(model.graph.nodes.filter((n) => n.inputs.includes('attention_mask')).map((n) => [n.op, n.attrs?.to])).toEqual([['Cast', DataType.INT32]]);
  });

  it('leaves attention alone where the block does not compute QAttention\'s function', () => {
    // Heads that disagree with the graph's reshapes, and a score scale other than 1/sqrt(head size).
    expect(quantizeModel(graph(), { numHeads: 2 }).report.attentionBlocks).toBe(0);
    const m = graph();
    const scaled: OnnxModel = { ...m, graph: { ...m.graph, initializers: m.graph.initializers.map((t) => (t.name === 'const.sqrt_head_dim' ? tensor(t.name, [], Float32Array.of(3)) : t)) } };
    expect(quantizeModel(scaled, { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(0);
    // Mask biases QAttention does not compute: a soft mask (-1 instead of float32 min), an
    // inverted one (0 - m instead of 1 - m). QAttention would mask padding fully and the rows move.
    const withConstant = (name: string, value: number): OnnxModel => ({
      ...m,
      graph: { ...m.graph, initializers: m.graph.initializers.map((t) => (t.name === name ? tensor(t.name, [], Float32Array.of(value)) : t)) },
    });
    expect(quantizeModel(withConstant('const.float32_min', -1), { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(0);
    expect(quantizeModel(withConstant('const.one', 0), { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(0);
    // Softmax without its axis: the last axis from opset 13 on, axis 1 (flattened) before.
    const noAxis = (version: number): OnnxModel => ({
      ...m,
      opsetImports: m.opsetImports.map((o) => (o.domain ? o : { ...o, version })),
      graph: { ...m.graph, nodes: m.graph.nodes.map((n) => (n.op === 'Softmax' ? { ...n, attrs: {} } : n)) },
    });
    expect(quantizeModel(noAxis(12), { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(0);
    expect(quantizeModel(noAxis(17), { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(APPLICATIONS);
    expect(quantizeModel(m, { numHeads: config.num_attention_heads }).report.attentionBlocks).toBe(APPLICATIONS);
  });

  it('keepFloat leaves a MatMul in float; a graph without weight MatMuls comes back unchanged', () => {
    const { model, report } = quantizeModel(graph(), { keepFloat: (_, w) => w.dims[0] === config.embedding_size });
    expect(report.keptFloat).toHaveLength(1);
    expect(model.graph.initializers.some((t) => t.name === 'encoder.embedding_hidden_mapping_in.weight.T')).toBe(true);
    const bare: OnnxModel = {
      irVersion: 8,
      producerName: 't',
      producerVersion: '1',
      opsetImports: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
        initializers: [],
        inputs: [{ name: 'a', elemType: DataType.FLOAT, shape: [2, 2] }, { name: 'b', elemType: DataType.FLOAT, shape: [2, 2] }],
        outputs: [{ name: 'c', elemType: DataType.FLOAT, shape: [2, 2] }],
      },
    };
    const same = quantizeModel(bare);
    expect(same.report.matmuls).toBe(0);
    expect(encodeOnnxModel(same.model)).toEqual(encodeOnnxModel(bare));
  });

  it('folds a bias Add only when it is the MatMul\'s sole reader', () => {
    const w = tensor('w', [2, 2], Float32Array.from([1, 2, 3, 4]));
    const b = tensor('b', [2], Float32Array.from([1, 1]));
    const model = (extraReader: boolean): OnnxModel => ({
      irVersion: 8,
      producerName: 't',
      producerVersion: '1',
      opsetImports: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        nodes: [
          { op: 'MatMul', inputs: ['a', 'w'], outputs: ['m'] },
          { op: 'Add', inputs: ['m', 'b'], outputs: ['y'] },
          ...(extraReader ? [{ op: 'Relu', inputs: ['m'], outputs: ['r'] }] : []),
        ],
        initializers: [w, b],
        inputs: [{ name: 'a', elemType: DataType.FLOAT, shape: [1, 2] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [1, 2] }, ...(extraReader ? [{ name: 'r', elemType: DataType.FLOAT, shape: [1, 2] }] : [])],
      },
    });
    const folded = quantizeModel(model(false)).model.graph.nodes;
    expect(folded.map((n) => n.op)).toEqual(['DynamicQuantizeMatMul']);
    expect(folded[0].inputs).toEqual(['a', 'w_quantized', 'w_scale', '', 'b']);
    expect(folded[0].outputs).toEqual(['y']);
    expect(quantizeModel(model(true)).model.graph.nodes.map((n) => n.op)).toEqual(['DynamicQuantizeMatMul', 'Add', 'Relu']);
  });
});

describe('the quantized fixture in onnxruntime', () => {
  // The fixture as Optimum would hand it over: read back from onnx/model.onnx.
  const source = join(TINY_EN, 'onnx', 'model.onnx');
  const feeds = () => {
    // Two rows, the second padded after 5 tokens: the mask must hide the padding from QAttention too.
    const ids = [2, 40, 41, 42, 43, 44, 45, 3, 2, 50, 51, 52, 3, 0, 0, 0];
    const mask = ids.map((_, i) => (i < 13 ? 1 : 0));
    const t = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [2, 8]);
    return { input_ids: t(ids), attention_mask: t(mask), token_type_ids: t(ids.map(() => 0)) };
  };
  const run = async (model: OnnxModel) => {
    const path = join(tempDir(), 'model.onnx');
    writeOnnxModel(path, model);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    try {
      return (await session.run(feeds())).last_hidden_state.data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const real = (data: Float32Array) => data.filter((_, i) => Math.floor(i / 64) < 13);

  it('QAttention computes what the DynamicQuantizeMatMul graph does (within 1e-4), and both stay near fp32', async () => {
    const model = readOnnxModelFile(source);
    const fused = quantizeModel(model, { numHeads: 4 });
    expect(fused.report.attentionBlocks).toBe(8);
    const [fp32, plain, qattention] = [await run(model), real(await run(quantizeModel(model).model)), real(await run(fused.model))];
    // Same int8 products; the two differ only in the masked scores' offset (-10000 vs float32 min) and summation order.
    let worst = 0;
    for (let i = 0; i < plain.length; i++) worst = Math.max(worst, Math.abs(plain[i] - qattention[i]));
    expect(worst).toBeLessThan(1e-4);
    // Token vectors after LayerNorm are O(1): int8 weights and activations move them by about 1%.
    const reference = real(fp32);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < reference.length; i++) {
      err += (qattention[i] - reference[i]) ** 2;
      norm += reference[i] ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(0.05);
    expect(Math.sqrt(err / norm)).toBeGreaterThan(0);
  });
});
