// Dynamic int8 quantization of an ONNX graph's weight MatMuls: every MatMul whose B is a 2-D float
// initializer becomes onnxruntime's com.microsoft DynamicQuantizeMatMul, with B stored as int8
// (symmetric, one scale per output column) and A quantized to uint8 at run time. A bias Add that
// follows is folded into the op. Given the number of heads, each self-attention block (see
// attention-match.ts) becomes one com.microsoft QAttention instead: its three projections in one
// int8 weight, the attention itself in float, without the reshapes and transposes between.
// Works on any OnnxModel: graphs this project builds (initializers read from the checkpoint when
// written) and graphs read back with readOnnxModel + initializerOf. Quantized tensors are lazy
// too: the model is written with about one float tensor in memory, and a weight that several
// MatMuls share (ALBERT's one layer applied 12 times) is quantized once.
import { findAttentionBlocks, type AttentionBlock } from './attention-match.js';
import { DataType, type Initializer, type Node, type OnnxModel } from './onnx.js';

export const MS_DOMAIN = 'com.microsoft';

export interface QuantizeGraphOptions {
  /**
   * int8 (the default): symmetric, zero point 0, so onnxruntime runs its u8s8 kernels (VNNI's
   * dot products); uint8: asymmetric with a zero point per column, the u8u8 kernels.
   */
  weightType?: 'int8' | 'uint8';
  /** Fold a following bias Add into the quantized op (default true). */
  foldBias?: boolean;
  /** Leaves a weight MatMul in float when this returns true (attention blocks are fused regardless). */
  keepFloat?: (node: Node, weight: Initializer) => boolean;
  /** The model's attention heads (config.json's num_attention_heads): given, attention blocks become QAttention. */
  numHeads?: number;
}

export interface QuantizeReport {
  /** The onnxruntime operators the quantized graph uses, as domain:op. */
  ops: string[];
  weightType: 'int8' | 'uint8';
  /** Self-attention blocks fused into QAttention. */
  attentionBlocks: number;
  /** Weight MatMul nodes replaced (a QAttention replaces three). */
  matmuls: number;
  /** Distinct weight tensors quantized (a shared one counts once). */
  weights: number;
  /** Bias Adds folded into the quantized op. */
  biasesFolded: number;
  /** Weight MatMuls left in float (by keepFloat), by node name. */
  keptFloat: string[];
  /** Float bytes of the quantized weights, and their bytes now (int8 + scales). */
  floatBytes: number;
  quantizedBytes: number;
}

/** The tensor's float32 values, aligned (a reader's view into a file may start anywhere). */
export function floatsOf(t: Initializer): Float32Array {
  const bytes = t.produce();
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  // ArrayBuffer.slice copies; a Node Buffer's own slice() would not.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Round half to even, as numpy and onnxruntime's QuantizeLinear round. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Quantized {
  values: Int8Array | Uint8Array;
  scales: Float32Array;
  zeroPoints?: Uint8Array;
}

/** Per-column quantization of a [K, N] row-major matrix. */
export function quantizeColumns(data: Float32Array, k: number, n: number, weightType: 'int8' | 'uint8'): Quantized {
  const lo = new Float32Array(n);
  const hi = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const v = data[row + c];
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  }
  const scales = new Float32Array(n);
  if (weightType === 'int8') {
    // [-127, 127]: the symmetric range, so that -w quantizes to -q.
    for (let c = 0; c < n; c++) scales[c] = Math.max(-lo[c], hi[c]) / 127 || 1;
    const values = new Int8Array(k * n);
    for (let r = 0; r < k; r++) {
      const row = r * n;
      for (let c = 0; c < n; c++) values[row + c] = Math.max(-127, Math.min(127, roundEven(data[row + c] / scales[c])));
    }
    return { values, scales };
  }
  // The range includes 0, so that 0 is exact (padding, ReLU outputs), as ONNX quantization requires.
  const zeroPoints = new Uint8Array(n);
  for (let c = 0; c < n; c++) {
    scales[c] = (hi[c] - lo[c]) / 255 || 1;
    zeroPoints[c] = Math.max(0, Math.min(255, roundEven(-lo[c] / scales[c])));
  }
  const values = new Uint8Array(k * n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) values[row + c] = Math.max(0, Math.min(255, roundEven(data[row + c] / scales[c]) + zeroPoints[c]));
  }
  return { values, scales, zeroPoints };
}

const bytesOf = (a: Float32Array | Int8Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Lazy initializers for one [K, N] weight whose floats `read` produces: the quantized values,
 * scales and (uint8) zero points. The values are computed when first asked for and not kept; the
 * small per-column tensors are kept, so the usual order (values first) reads the weight once.
 */
function quantizedTensors(read: () => Float32Array, k: number, n: number, weightType: 'int8' | 'uint8', name: (suffix: string) => string) {
  let columns: { scales: Float32Array; zeroPoints?: Uint8Array } | undefined;
  const compute = () => {
    const q = quantizeColumns(read(), k, n, weightType);
    columns = { scales: q.scales, zeroPoints: q.zeroPoints };
    return q;
  };
  const perColumn = () => columns ?? compute();
  const values: Initializer = {
    name: name('quantized'),
    dataType: weightType === 'int8' ? DataType.INT8 : DataType.UINT8,
    dims: [k, n],
    byteLength: k * n,
    produce: () => bytesOf(compute().values),
  };
  const scales: Initializer = { name: name('scale'), dataType: DataType.FLOAT, dims: [n], byteLength: 4 * n, produce: () => bytesOf(perColumn().scales) };
  const zeroPoints: Initializer | undefined =
    weightType === 'uint8' ? { name: name('zero_point'), dataType: DataType.UINT8, dims: [n], byteLength: n, produce: () => perColumn().zeroPoints! } : undefined;
  return { values, scales, zeroPoints, all: [values, scales, ...(zeroPoints ? [zeroPoints] : [])] };
}

/** [K, N] matrices side by side: [K, sum of N]. */
function concatColumns(parts: readonly Float32Array[], k: number): Float32Array {
  const widths = parts.map((p) => p.length / k);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(k * total);
  for (let r = 0; r < k; r++) {
    let at = r * total;
    parts.forEach((p, i) => {
      out.set(p.subarray(r * widths[i], (r + 1) * widths[i]), at);
      at += widths[i];
    });
  }
  return out;
}

/** Whether `t` is a float matrix a MatMul can take as its weight. */
const isWeightMatrix = (t: Initializer | undefined): t is Initializer => t !== undefined && t.dataType === DataType.FLOAT && t.dims.length === 2;

/**
 * The model with its weight MatMuls quantized, and what was done. The input model is not changed;
 * its initializers are read again (lazily) when the result is written.
 */
export function quantizeModel(model: OnnxModel, options: QuantizeGraphOptions = {}): { model: OnnxModel; report: QuantizeReport } {
  const weightType = options.weightType ?? 'int8';
  const foldBias = options.foldBias ?? true;
  const { graph } = model;
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes) for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const taken = new Set([...initializers.keys(), ...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const uniqueName = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };

  const report: QuantizeReport = { ops: [], weightType, attentionBlocks: 0, matmuls: 0, weights: 0, biasesFolded: 0, keptFloat: [], floatBytes: 0, quantizedBytes: 0 };
  // Quantized tensors by the names of the float tensors they come from: each is made once.
  const quantized = new Map<string, ReturnType<typeof quantizedTensors>>();
  const added: Initializer[] = [];
  const quantizedFrom = (key: string, floats: readonly Initializer[], read: () => Float32Array, k: number, n: number, base: string) => {
    let q = quantized.get(key);
    if (!q) {
      q = quantizedTensors(read, k, n, weightType, (suffix) => uniqueName(`${base}_${suffix}`));
      quantized.set(key, q);
      added.push(...q.all);
      report.weights += floats.length;
      report.floatBytes += floats.reduce((sum, t) => sum + t.byteLength, 0);
      report.quantizedBytes += q.all.reduce((sum, t) => sum + t.byteLength, 0);
    }
    return q;
  };
  const dropped = new Set<Node>();
  const replaced = new Map<Node, Node[]>();
  const first: Node[] = [];

  const blocks: AttentionBlock[] = options.numHeads === undefined ? [] : findAttentionBlocks(graph, options.numHeads, model.opsetImports.find((o) => !o.domain)?.version);
  // The fused biases and the int32 masks, by what they are made from: each is made once.
  const biases = new Map<string, Initializer>();
  const masks = new Map<string, string>();
  for (const block of blocks) {
    const projections = [block.q, block.k, block.v];
    const [k, n] = block.q.weight.dims;
    const key = projections.map((p) => p.weight.name).join('+');
    const q = quantizedFrom(key, projections.map((p) => p.weight), () => concatColumns(projections.map((p) => floatsOf(p.weight)), k), k, 3 * n, `${block.q.weight.name}_qkv`);
    const biasKey = projections.map((p) => p.bias.name).join('+');
    let bias = biases.get(biasKey);
    if (!bias) {
      const name = uniqueName(`${block.q.bias.name}_qkv`);
      bias = { name, dataType: DataType.FLOAT, dims: [3 * n], byteLength: 12 * n, produce: () => bytesOf(concatColumns(projections.map((p) => floatsOf(p.bias)), 1)) };
      biases.set(biasKey, bias);
      added.push(bias);
    }
    // QAttention takes the mask as int32 (1 attended, 0 padding): one Cast serves every block.
    let mask = '';
    if (block.maskInput !== undefined) {
      mask = masks.get(block.maskInput) ?? '';
      if (!mask) {
        mask = uniqueName(`${block.maskInput}_int32`);
        masks.set(block.maskInput, mask);
        first.push({ op: 'Cast', name: uniqueName('QAttention_mask_cast'), inputs: [block.maskInput], outputs: [mask], attrs: { to: DataType.INT32 } });
      }
    }
    const [x, scale, zeroPoint] = ['quantized', 'scale', 'zero_point'].map((s) => uniqueName(`${block.output}_input_${s}`));
    const out = block.outputNode;
    replaced.set(out, [
      { op: 'DynamicQuantizeLinear', name: uniqueName(`${out.name ?? 'attention'}_quantize`), inputs: [block.input], outputs: [x, scale, zeroPoint] },
      {
        op: 'QAttention',
        domain: MS_DOMAIN,
        name: uniqueName(`${out.name ?? 'attention'}_qattention`),
        inputs: [x, q.values.name, bias.name, scale, q.scales.name, mask, zeroPoint, ...(q.zeroPoints ? [q.zeroPoints.name] : [])],
        outputs: [block.output],
        attrs: { num_heads: block.numHeads },
      },
    ]);
    for (const node of block.nodes) if (node !== out) dropped.add(node);
    report.attentionBlocks++;
    report.matmuls += 3;
  }

  for (const node of graph.nodes) {
    if (dropped.has(node) || replaced.has(node) || node.op !== 'MatMul' || node.domain || node.inputs.length !== 2) continue;
    const weight = initializers.get(node.inputs[1]);
    if (!isWeightMatrix(weight)) continue;
    if (options.keepFloat?.(node, weight)) {
      report.keptFloat.push(node.name ?? node.outputs[0]);
      continue;
    }
    const [k, n] = weight.dims;
    const q = quantizedFrom(weight.name, [weight], () => floatsOf(weight), k, n, weight.name);
    // A bias Add folds when it is the MatMul's only consumer and adds a [N] float initializer.
    const out = node.outputs[0];
    const users = consumers.get(out) ?? [];
    const add = foldBias && users.length === 1 && !graphOutputs.has(out) && users[0].op === 'Add' && !users[0].domain ? users[0] : undefined;
    const bias = add && add.inputs.length === 2 ? initializers.get(add.inputs[add.inputs[0] === out ? 1 : 0]) : undefined;
    const folded = add !== undefined && bias !== undefined && bias.dataType === DataType.FLOAT && bias.dims.length === 1 && bias.dims[0] === n;
    const inputs = [node.inputs[0], q.values.name, q.scales.name, q.zeroPoints?.name ?? '', ...(folded ? [bias.name] : [])];
    // Trailing optional inputs are left out rather than named '' (an empty zero point stays: bias follows it).
    while (inputs[inputs.length - 1] === '') inputs.pop();
    replaced.set(node, [
      { op: 'DynamicQuantizeMatMul', domain: MS_DOMAIN, ...(node.name === undefined ? {} : { name: node.name }), inputs, outputs: folded ? add.outputs : node.outputs },
    ]);
    if (folded) {
      dropped.add(add);
      report.biasesFolded++;
    }
    report.matmuls++;
  }

  // Nodes whose results nothing reads any more (a fused block's float mask) go too.
  const needed = new Set(graphOutputs);
  const nodes = [...first, ...graph.nodes.filter((n) => !dropped.has(n)).flatMap((n) => replaced.get(n) ?? [n])]
    .reverse()
    .filter((n) => n.outputs.some((o) => needed.has(o)) && (n.inputs.forEach((i) => needed.add(i)), true))
    .reverse();
  // Tensors no node reads any more (the float weights, the fused blocks' shapes) are dropped; a
  // weight also read elsewhere (a tied embedding) stays.
  const used = new Set([...nodes.flatMap((n) => n.inputs), ...graph.inputs.map((i) => i.name), ...graphOutputs]);
  const kept = graph.initializers.filter((t) => used.has(t.name));
  report.ops = [...new Set(nodes.filter((n) => n.domain === MS_DOMAIN).map((n) => `${MS_DOMAIN}:${n.op}`))].sort();
  const opsetImports = model.opsetImports.some((o) => o.domain === MS_DOMAIN) || report.ops.length === 0 ? model.opsetImports : [...model.opsetImports, { domain: MS_DOMAIN, version: 1 }];
  return { model: { ...model, opsetImports, graph: { ...graph, nodes, initializers: [...kept, ...added] } }, report };
}
