// The ALBERT encoder (transformers' AlbertModel, eager attention) as an ONNX graph, node for node
// the way torch.onnx / Optimum export it at opset 17: Gather embeddings, LayerNormalization,
// MatMul+Add projections, the additive float mask, and gelu_new spelled out (Pow, Tanh).
import { type AlbertConfig, groupForLayer, layerPrefix } from './albert-config.js';
import { DataType, type Graph, type Initializer, type Node } from './onnx-proto.js';
import type { Weights } from './weights.js';

export interface GraphOptions {
  /** Optimum declares token_type_ids for ALBERT; some exports drop it and use type 0. */
  tokenTypeInput: boolean;
  /** Optimum names the output last_hidden_state; other exporters may not. */
  outputName?: string;
  /** torch.onnx.export without an attention_mask argument attends to every position. */
  attentionMaskInput?: boolean;
  /** torch.onnx.export without dynamic_axes fixes [batch, sequence]. */
  fixedShape?: [number, number];
  /** Cast the output to float16, as fp16 / q4f16 exports return it. */
  float16Output?: boolean;
  /** Element types of the token inputs and of the mask; Optimum uses int64 for both. */
  idsType?: 'int64' | 'int32';
  maskType?: 'int64' | 'float32';
  /** 17 (default) uses LayerNormalization; 14 spells it out as older torch exports do. */
  opset?: 14 | 17;
  /** Also output pooler_output (tanh of a dense layer on the first token), as AlbertModel returns it. */
  poolerOutput?: boolean;
}

// torch.finfo(torch.float32).min, what transformers adds at masked key positions.
const FLOAT32_MIN = -3.4028234663852886e38;

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

export function buildAlbertGraph(config: AlbertConfig, weights: Weights, options: GraphOptions): Graph {
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const seen = new Set<string>();
  let counter = 0;

  const op = (type: string, inputs: string[], attrs?: Node['attrs'], output?: string): string => {
    const out = output ?? `/${type}_${counter++}_output`;
    nodes.push({ op: type, inputs, outputs: [out], attrs });
    return out;
  };
  const init = (name: string, dims: number[], data: Float32Array | BigInt64Array): string => {
    if (!seen.has(name)) {
      seen.add(name);
      initializers.push({ name, dims, data });
    }
    return name;
  };
  const scalar = (name: string, value: number) => init(name, [], Float32Array.of(value));
  const ints = (name: string, values: number[], dims = [values.length]) =>
    init(name, dims, BigInt64Array.from(values.map(BigInt)));
  const param = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    return init(name, t.shape, t.data);
  };
  // PyTorch exports x @ W^T with W^T stored as the MatMul initializer.
  const linear = (x: string, name: string) => {
    const w = weights.get(`${name}.weight`);
    if (!w) throw new Error(`missing weight ${name}.weight`);
    const [out, inp] = w.shape;
    const wt = init(`${name}.weight.T`, [inp, out], transpose(w.data, out, inp));
    return op('Add', [op('MatMul', [x, wt]), param(`${name}.bias`)]);
  };
  const layerNorm = (x: string, name: string) => {
    if ((options.opset ?? 17) >= 17) {
      return op('LayerNormalization', [x, param(`${name}.weight`), param(`${name}.bias`)], {
        axis: -1,
        epsilon: { float: config.layer_norm_eps },
      });
    }
    const centered = op('Sub', [x, op('ReduceMean', [x], { axes: [-1], keepdims: 1 })]);
    const variance = op('ReduceMean', [op('Pow', [centered, scalar('const.two', 2)])], { axes: [-1], keepdims: 1 });
    const normed = op('Div', [centered, op('Sqrt', [op('Add', [variance, scalar(`${name}.eps`, config.layer_norm_eps)])])]);
    return op('Add', [op('Mul', [normed, param(`${name}.weight`)]), param(`${name}.bias`)]);
  };
  // gelu_new as torch exports transformers' NewGELUActivation:
  // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3)))). onnxruntime's FastGeluFusion
  // recognises exactly this spelling, so fusion counts on these graphs carry over to real exports.
  const geluNew = (x: string) => {
    const cube = op('Pow', [x, scalar('gelu.three', 3)]);
    const inner = op('Mul', [scalar('gelu.sqrt_2_over_pi', Math.sqrt(2 / Math.PI)), op('Add', [x, op('Mul', [scalar('gelu.c', 0.044715), cube])])]);
    return op('Mul', [op('Mul', [scalar('gelu.half', 0.5), x]), op('Add', [scalar('gelu.one', 1), op('Tanh', [inner])])]);
  };

  // Embeddings: words + token types + absolute positions, LayerNorm, then the E -> H mapping.
  const words = op('Gather', [param('embeddings.word_embeddings.weight'), 'input_ids']);
  const tokenTypes = options.tokenTypeInput
    ? op('Gather', [param('embeddings.token_type_embeddings.weight'), 'token_type_ids'])
    : op('Gather', [param('embeddings.token_type_embeddings.weight'), ints('const.zero_scalar', [0], [])]);
  const seqLen = op('Gather', [op('Shape', ['input_ids']), ints('const.one_scalar', [1], [])], { axis: 0 });
  const positionIds = op('Range', [ints('const.zero_scalar', [0], []), seqLen, ints('const.one_scalar', [1], [])]);
  const positions = op('Gather', [param('embeddings.position_embeddings.weight'), positionIds]);
  const embedded = layerNorm(op('Add', [op('Add', [words, tokenTypes]), positions]), 'embeddings.LayerNorm');
  let hidden = linear(embedded, 'encoder.embedding_hidden_mapping_in');

  // [B, L] mask -> [B, 1, 1, L] additive bias: 0 where attended, float32 min where padded.
  const withMask = options.attentionMaskInput ?? true;
  const mask4d = withMask ? op('Unsqueeze', [op('Cast', ['attention_mask'], { to: DataType.FLOAT }), ints('const.axes_1_2', [1, 2])]) : '';
  const maskBias = withMask ? op('Mul', [op('Sub', [scalar('const.one', 1), mask4d]), scalar('const.float32_min', FLOAT32_MIN)]) : '';

  const heads = config.num_attention_heads;
  const headDim = config.hidden_size / heads;
  const splitHeads = ints('const.split_heads', [0, 0, heads, headDim]);
  const mergeHeads = ints('const.merge_heads', [0, 0, config.hidden_size]);
  const scale = scalar('const.sqrt_head_dim', Math.sqrt(headDim));

  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const group = groupForLayer(config, layer);
    for (let inner = 0; inner < config.inner_group_num; inner++) {
      const p = layerPrefix(group, inner);
      const q = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.query`), splitHeads])], { perm: [0, 2, 1, 3] });
      const k = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.key`), splitHeads])], { perm: [0, 2, 3, 1] });
      const v = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.value`), splitHeads])], { perm: [0, 2, 1, 3] });
      const scaled = op('Div', [op('MatMul', [q, k]), scale]);
      const scores = withMask ? op('Add', [scaled, maskBias]) : scaled;
      const context = op('MatMul', [op('Softmax', [scores], { axis: -1 }), v]);
      const merged = op('Reshape', [op('Transpose', [context], { perm: [0, 2, 1, 3] }), mergeHeads]);
      const attended = layerNorm(op('Add', [hidden, linear(merged, `${p}.attention.dense`)]), `${p}.attention.LayerNorm`);
      const ffn = linear(geluNew(linear(attended, `${p}.ffn`)), `${p}.ffn_output`);
      hidden = layerNorm(op('Add', [ffn, attended]), `${p}.full_layer_layer_norm`);
    }
  }
  const outputName = options.outputName ?? 'last_hidden_state';
  if (options.float16Output) op('Cast', [hidden], { to: DataType.FLOAT16 }, outputName);
  else op('Identity', [hidden], undefined, outputName);
  if (options.poolerOutput) {
    const first = op('Gather', [hidden, ints('const.zero_scalar', [0], [])], { axis: 1 });
    op('Tanh', [linear(first, 'pooler')], undefined, 'pooler_output');
  }

  const [batch, sequence] = options.fixedShape ?? ['batch_size', 'sequence_length'];
  const idsType = options.idsType === 'int32' ? DataType.INT32 : DataType.INT64;
  const maskType = options.maskType === 'float32' ? DataType.FLOAT : DataType.INT64;
  const tokenInput = (name: string, elemType: number = idsType) => ({ name, elemType, shape: [batch, sequence] });
  return {
    name: 'main_graph',
    nodes,
    initializers,
    inputs: [tokenInput('input_ids'), ...(withMask ? [tokenInput('attention_mask', maskType)] : []), ...(options.tokenTypeInput ? [tokenInput('token_type_ids')] : [])],
    outputs: [
      { name: outputName, elemType: options.float16Output ? DataType.FLOAT16 : DataType.FLOAT, shape: [batch, sequence, config.hidden_size] },
      ...(options.poolerOutput ? [{ name: 'pooler_output', elemType: DataType.FLOAT, shape: [batch, config.hidden_size] }] : []),
    ],
  };
}
