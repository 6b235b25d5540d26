// Finds self-attention blocks in an ONNX graph as torch.onnx exports eager BERT/ALBERT attention:
//
//   q = Transpose_0213(Reshape(Add(MatMul(x, Wq), bq)))       k and v alike, from the same x;
//   k^T = Transpose_0231(Reshape(...))  or  Transpose_0132(Transpose_0213(Reshape(...)))
//   p = Softmax(Add(Div(MatMul(q, k^T), sqrt(d)), mask))      (Mul by 1/sqrt(d); the Add only with a mask)
//   out = Reshape(Transpose_0213(MatMul(p, v)))
//
// with every intermediate read by the next node alone, and the mask bias spelled as transformers
// computes it from the [batch, sequence] attention mask m: (1 - m[:, None, None, :]) * c, with c
// a large negative constant (Unsqueeze and Cast in any order). QAttention takes m itself and
// masks with its own large negative, so any other bias (a soft or inverted mask, a causal
// triangle, positions) is another function and is left alone. Such a block is what onnxruntime's QAttention computes
// from x, the three weights side by side, their biases and that mask. Anything else (SDPA exports,
// rotary or relative positions, a scale that is not 1/sqrt(d)) is not matched and stays as it is.
import type { Graph, Initializer, Node } from './onnx.js';

export interface Projection {
  matmul: Node;
  add: Node;
  weight: Initializer;
  bias: Initializer;
}

export interface AttentionBlock {
  /** The tensor the three projections read. */
  input: string;
  q: Projection;
  k: Projection;
  v: Projection;
  numHeads: number;
  /** The graph input the additive mask is computed from; undefined when scores are not masked. */
  maskInput?: string;
  /** The block's output (the merged heads). */
  output: string;
  /** Every node the block replaces. */
  nodes: Set<Node>;
  /** The last of them, the Reshape that merges the heads: where the replacement goes. */
  outputNode: Node;
}

const samePerm = (node: Node | undefined, perm: readonly number[]) =>
  node?.op === 'Transpose' && !node.domain && Array.isArray(node.attrs?.perm) && (node.attrs.perm as number[]).length === perm.length && perm.every((p, i) => Number((node.attrs!.perm as number[])[i]) === p);

function scalarValue(t: Initializer | undefined): number | undefined {
  if (!t || t.dataType !== 1 || t.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
  const b = t.produce();
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}

/** The attention blocks of `graph`; `numHeads` (config.json's num_attention_heads) is checked against constant reshapes. */
export function findAttentionBlocks(graph: Graph, numHeads: number, opset = 13): AttentionBlock[] {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const o of node.outputs) producer.set(o, node);
    for (const i of node.inputs) consumers.set(i, [...(consumers.get(i) ?? []), node]);
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const graphInputs = new Map(graph.inputs.map((i) => [i.name, i]));
  /** The producer of `name` when `name` feeds that one consumer only and is no graph output. */
  const soleProducer = (name: string | undefined, op: string): Node | undefined => {
    if (name === undefined || outputs.has(name) || (consumers.get(name)?.length ?? 0) !== 1) return undefined;
    const node = producer.get(name);
    return node?.op === op && !node.domain ? node : undefined;
  };
  const soleConsumer = (name: string, op: string): Node | undefined => {
    const users = consumers.get(name) ?? [];
    return users.length === 1 && !outputs.has(name) && users[0].op === op && !users[0].domain ? users[0] : undefined;
  };
  /** Reshape(Add(MatMul(x, W), b)) -> the projection, with W [K, N] and b [N] float initializers. */
  const projection = (reshape: Node | undefined, nodes: Node[]): Projection | undefined => {
    if (reshape?.op !== 'Reshape') return undefined;
    const add = soleProducer(reshape.inputs[0], 'Add');
    if (!add) return undefined;
    for (const side of [0, 1]) {
      const matmul = soleProducer(add.inputs[side], 'MatMul');
      const weight = initializers.get(matmul?.inputs[1] ?? '');
      const bias = initializers.get(add.inputs[1 - side]);
      if (!matmul || !weight || !bias || weight.dataType !== 1 || weight.dims.length !== 2 || bias.dataType !== 1 || bias.dims.length !== 1 || bias.dims[0] !== weight.dims[1]) continue;
      // A constant target shape [.., heads, head size] must agree with numHeads.
      const shape = initializers.get(reshape.inputs[1]);
      if (shape && shape.dims.length === 1 && shape.dims[0] === 4) {
        const bytes = shape.produce();
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const heads = shape.dataType === 7 ? Number(view.getBigInt64(16, true)) : undefined;
        if (heads !== numHeads) return undefined;
      }
      nodes.push(reshape, add, matmul);
      return { matmul, add, weight, bias };
    }
    return undefined;
  };
  const ints = (name: string | undefined): number[] | undefined => {
    const t = initializers.get(name ?? '');
    if (!t || t.dataType !== 7) return undefined;
    const b = t.produce();
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: b.byteLength / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
  };
  /**
   * The graph input a mask bias is (1 - m[:, None, None, :]) * c of, c <= -1e4: Mul(Sub(1, x), c)
   * where x is the [batch, sequence] input through Unsqueezes (to [batch, 1, 1, sequence]) and Casts.
   */
  const standardMask = (bias: string): string | undefined => {
    const mul = producer.get(bias);
    if (mul?.op !== 'Mul' || mul.domain) return undefined;
    const cSide = [0, 1].find((i) => (scalarValue(initializers.get(mul.inputs[i])) ?? 0) <= -1e4);
    if (cSide === undefined) return undefined;
    const sub = producer.get(mul.inputs[1 - cSide]);
    if (sub?.op !== 'Sub' || sub.domain || scalarValue(initializers.get(sub.inputs[0])) !== 1) return undefined;
    // Back from x to the graph input, then forward again over the Unsqueezes' axes.
    const steps: Node[] = [];
    let value = sub.inputs[1];
    for (let node = producer.get(value); node; node = producer.get(value)) {
      if (node.domain || (node.op !== 'Cast' && node.op !== 'Unsqueeze')) return undefined;
      steps.unshift(node);
      value = node.inputs[0];
    }
    const input = graphInputs.get(value);
    if (!input || input.shape.length !== 2) return undefined;
    let rank = 2;
    const ones = new Set<number>();
    for (const node of steps) {
      if (node.op !== 'Unsqueeze') continue;
      const axes = node.attrs?.axes !== undefined ? (node.attrs.axes as number[]).map(Number) : ints(node.inputs[1]);
      if (!axes) return undefined;
      rank += axes.length;
      for (const axis of axes) ones.add(axis < 0 ? axis + rank : axis);
    }
    return rank === 4 && ones.size === 2 && ones.has(1) && ones.has(2) ? value : undefined;
  };

  const blocks: AttentionBlock[] = [];
  for (const softmax of graph.nodes) {
    if (softmax.op !== 'Softmax' || softmax.domain) continue;
    // Before opset 13 Softmax's default axis is 1 (and it flattens): another function.
    const axis = softmax.attrs?.axis ?? (opset >= 13 ? -1 : 1);
    if (axis !== -1 && axis !== 3) continue;
    const nodes: Node[] = [softmax];
    // Scores: scaled, then masked (the mask is optional).
    let scores = softmax.inputs[0];
    let maskInput: string | undefined;
    const maskAdd = soleProducer(scores, 'Add');
    if (maskAdd) {
      // The scaled scores on one side, a bias computed from the mask input alone on the other.
      const side = [0, 1].find((s) => ['Div', 'Mul'].includes(producer.get(maskAdd.inputs[s])?.op ?? '') && (maskInput = standardMask(maskAdd.inputs[1 - s])) !== undefined);
      if (side === undefined) continue;
      nodes.push(maskAdd);
      scores = maskAdd.inputs[side];
    }
    const scale = soleProducer(scores, 'Div') ?? soleProducer(scores, 'Mul');
    const factor = scalarValue(initializers.get(scale?.inputs[1] ?? ''));
    if (!scale || factor === undefined) continue;
    nodes.push(scale);
    const qk = soleProducer(scale.inputs[0], 'MatMul');
    if (!qk) continue;
    nodes.push(qk);
    const qT = soleProducer(qk.inputs[0], 'Transpose');
    let kT = soleProducer(qk.inputs[1], 'Transpose');
    if (!samePerm(qT, [0, 2, 1, 3]) || !kT) continue;
    nodes.push(qT!, kT);
    if (samePerm(kT, [0, 1, 3, 2])) {
      kT = soleProducer(kT.inputs[0], 'Transpose');
      if (!samePerm(kT, [0, 2, 1, 3])) continue;
      nodes.push(kT!);
    } else if (!samePerm(kT, [0, 2, 3, 1])) continue;
    const context = soleConsumer(softmax.outputs[0], 'MatMul');
    const vT = context && context.inputs[0] === softmax.outputs[0] ? soleProducer(context.inputs[1], 'Transpose') : undefined;
    const merged = context ? soleConsumer(context.outputs[0], 'Transpose') : undefined;
    const out = merged ? soleConsumer(merged.outputs[0], 'Reshape') : undefined;
    if (!context || !samePerm(vT, [0, 2, 1, 3]) || !samePerm(merged, [0, 2, 1, 3]) || !out) continue;
    nodes.push(context, vT!, merged!, out);
    const q = projection(producer.get(qT!.inputs[0]), nodes);
    const k = projection(producer.get(kT!.inputs[0]), nodes);
    const v = projection(producer.get(vT!.inputs[0]), nodes);
    if (!q || !k || !v) continue;
    const input = q.matmul.inputs[0];
    const hidden = q.weight.dims[1];
    const sameShape = (p: Projection) => p.weight.dims[0] === q.weight.dims[0] && p.weight.dims[1] === hidden;
    if (k.matmul.inputs[0] !== input || v.matmul.inputs[0] !== input || !sameShape(k) || !sameShape(v) || hidden % numHeads !== 0) continue;
    // QAttention scales scores by 1/sqrt(head size); another scale is another function.
    const expected = Math.sqrt(hidden / numHeads);
    const applied = scale.op === 'Div' ? factor : 1 / factor;
    if (Math.abs(applied - expected) > 1e-5 * expected) continue;
    // Every reshape and transpose in between must be read by the block alone.
    if (nodes.some((n) => n !== out && n.outputs.some((o) => outputs.has(o) || (consumers.get(o) ?? []).some((c) => !nodes.includes(c))))) continue;
    blocks.push({ input, q, k, v, numHeads, maskInput, output: out.outputs[0], nodes: new Set(nodes), outputNode: out });
  }
  return blocks;
}
