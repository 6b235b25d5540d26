// The ALBERT encoder (transformers' AlbertModel, eager attention) as an ONNX graph, node for node
// the way torch.onnx / Optimum export it at opset 17: Gather embeddings, LayerNormalization,
// MatMul+Add projections, the additive float mask, the activation spelled as torch exports it.
// Weights are read from the WeightSource only when the graph is written, one tensor at a time.
import { ModelError } from '../errors.js';
import { type AlbertConfig, groupForLayer, layerPrefix } from './albert-config.js';
import { DataType, type Initializer, type Node, type OnnxModel, type ValueInfo, lazyTensor, tensor } from './onnx.js';

/**
 * Checkpoint tensors under Hugging Face AlbertModel key names without any prefix
 * (`embeddings.word_embeddings.weight`, `encoder.albert_layer_groups.0.albert_layers.0.ffn.bias`,
 * `pooler.weight`, ...), Linear weights in PyTorch's [out, in] layout.
 */
export interface WeightSource {
  /** The tensor's shape, or undefined when the checkpoint lacks it. Must not load the data. */
  shape(name: string): readonly number[] | undefined;
  float32(name: string): Float32Array;
}

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
  /**
   * Also output hidden_states.0 (the embedding_hidden_mapping_in projection) to
   * hidden_states.N (N = num_hidden_layers; k = after the k-th application of the layer-group
   * schedule), the tuple AlbertModel returns with output_hidden_states=True, all float32.
   */
  hiddenStates?: boolean;
  producerName?: string;
  producerVersion?: string;
}

// torch.finfo(torch.float32).min, what transformers adds at masked key positions.
const FLOAT32_MIN = -3.4028234663852886e38;

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function buildAlbertGraph(config: AlbertConfig, weights: WeightSource, options: GraphOptions): OnnxModel {
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const seen = new Set<string>();

  const op = (type: string, inputs: string[], attrs?: Node['attrs'], output?: string): string => {
    const name = `${type}_${nodes.length}`;
    const out = output ?? `/${name}_output`;
    nodes.push({ op: type, name, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    return out;
  };
  const init = (t: Initializer): string => {
    if (!seen.has(t.name)) {
      seen.add(t.name);
      initializers.push(t);
    }
    return t.name;
  };
  const scalar = (name: string, value: number) => init(tensor(name, [], Float32Array.of(value)));
  const ints = (name: string, values: number[], dims = [values.length]) => init(tensor(name, dims, BigInt64Array.from(values.map(BigInt))));
  // Checked when the graph is built, read when it is written.
  const weightShape = (name: string, expected: readonly number[]): readonly number[] => {
    const shape = weights.shape(name);
    if (!shape) throw new ModelError(`the checkpoint has no weight ${name}`, 'convert reads an AlbertModel (or AlbertFor*) checkpoint with every encoder weight');
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new ModelError(`weight ${name} has shape [${shape.join(', ')}]; config.json implies [${expected.join(', ')}]`, 'the checkpoint and its config.json do not belong together');
    }
    return shape;
  };
  const param = (name: string, shape: readonly number[]) => init(lazyTensor(name, DataType.FLOAT, weightShape(name, shape), () => bytesOf(weights.float32(name))));
  // PyTorch exports x @ W^T with W^T stored as the MatMul initializer.
  const linear = (x: string, name: string, out: number, inp: number, output?: string) => {
    weightShape(`${name}.weight`, [out, inp]);
    const wt = init(lazyTensor(`${name}.weight.T`, DataType.FLOAT, [inp, out], () => bytesOf(transpose(weights.float32(`${name}.weight`), out, inp))));
    return op('Add', [op('MatMul', [x, wt]), param(`${name}.bias`, [out])], undefined, output);
  };
  const layerNorm = (x: string, name: string, dim: number, output?: string) => {
    if ((options.opset ?? 17) >= 17) {
      return op('LayerNormalization', [x, param(`${name}.weight`, [dim]), param(`${name}.bias`, [dim])], { axis: -1, epsilon: { float: config.layer_norm_eps } }, output);
    }
    const centered = op('Sub', [x, op('ReduceMean', [x], { axes: [-1], keepdims: 1 })]);
    const variance = op('ReduceMean', [op('Pow', [centered, scalar('const.two', 2)])], { axes: [-1], keepdims: 1 });
    const normed = op('Div', [centered, op('Sqrt', [op('Add', [variance, scalar(`${name}.eps`, config.layer_norm_eps)])])]);
    return op('Add', [op('Mul', [normed, param(`${name}.weight`, [dim])]), param(`${name}.bias`, [dim])], undefined, output);
  };
  // gelu_new as torch exports transformers' NewGELUActivation:
  // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3)))). onnxruntime's FastGeluFusion
  // recognises exactly this spelling. gelu_pytorch_tanh (F.gelu(approximate='tanh')) is the same
  // function, and gelu_fast's x * 0.7978845608 * (1 + 0.044715 x^2) differs from it only in the
  // 11th digit of sqrt(2/pi), so both are written this way too: torch's own spellings of those
  // two (x*x*x, constants first) match neither of FastGeluFusion's patterns.
  const geluTanh = (x: string) => {
    const cube = op('Pow', [x, scalar('gelu.three', 3)]);
    const inner = op('Mul', [scalar('gelu.sqrt_2_over_pi', Math.sqrt(2 / Math.PI)), op('Add', [x, op('Mul', [scalar('gelu.c', 0.044715), cube])])]);
    return op('Mul', [op('Mul', [scalar('gelu.half', 0.5), x]), op('Add', [scalar('gelu.one', 1), op('Tanh', [inner])])]);
  };
  // gelu as torch.onnx exports nn.functional.gelu below opset 20 (symbolic_opset9.gelu):
  // Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), onnxruntime's GeluFusion pattern 2.
  const geluErf = (x: string) => {
    const erf = op('Erf', [op('Div', [x, scalar('gelu.sqrt_two', Math.SQRT2)])]);
    return op('Mul', [op('Mul', [x, op('Add', [erf, scalar('gelu.one', 1)])]), scalar('gelu.half', 0.5)]);
  };
  const activation = (x: string): string => {
    switch (config.hidden_act) {
      case 'gelu':
        return geluErf(x);
      case 'gelu_new':
      case 'gelu_fast':
      case 'gelu_pytorch_tanh':
        return geluTanh(x);
      case 'relu':
        return op('Relu', [x]);
      case 'silu':
      case 'swish':
        // symbolic_opset9.silu: x * sigmoid(x).
        return op('Mul', [x, op('Sigmoid', [x])]);
      default: {
        const never: never = config.hidden_act;
        throw new Error(`unhandled activation ${never}`);
      }
    }
  };

  const { embedding_size: E, hidden_size: H, intermediate_size: I } = config;
  const hiddenStateName = (k: number) => (options.hiddenStates ? `hidden_states.${k}` : undefined);

  // Embeddings: words + token types + absolute positions, LayerNorm, then the E -> H mapping.
  const words = op('Gather', [param('embeddings.word_embeddings.weight', [config.vocab_size, E]), 'input_ids']);
  const typeTable = param('embeddings.token_type_embeddings.weight', [config.type_vocab_size, E]);
  const tokenTypes = options.tokenTypeInput ? op('Gather', [typeTable, 'token_type_ids']) : op('Gather', [typeTable, ints('const.zero_scalar', [0], [])]);
  const seqLen = op('Gather', [op('Shape', ['input_ids']), ints('const.one_scalar', [1], [])], { axis: 0 });
  const positionIds = op('Range', [ints('const.zero_scalar', [0], []), seqLen, ints('const.one_scalar', [1], [])]);
  const positions = op('Gather', [param('embeddings.position_embeddings.weight', [config.max_position_embeddings, E]), positionIds]);
  const embedded = layerNorm(op('Add', [op('Add', [words, tokenTypes]), positions]), 'embeddings.LayerNorm', E);
  // Hidden states are named where they are computed rather than copied out by Identity nodes.
  let hidden = linear(embedded, 'encoder.embedding_hidden_mapping_in', H, E, hiddenStateName(0));
  const hiddenStates = [hidden];

  // [B, L] mask -> [B, 1, 1, L] additive bias: 0 where attended, float32 min where padded.
  const withMask = options.attentionMaskInput ?? true;
  const mask4d = withMask ? op('Unsqueeze', [op('Cast', ['attention_mask'], { to: DataType.FLOAT }), ints('const.axes_1_2', [1, 2])]) : '';
  const maskBias = withMask ? op('Mul', [op('Sub', [scalar('const.one', 1), mask4d]), scalar('const.float32_min', FLOAT32_MIN)]) : '';

  const heads = config.num_attention_heads;
  const headDim = H / heads;
  const splitHeads = ints('const.split_heads', [0, 0, heads, headDim]);
  const mergeHeads = ints('const.merge_heads', [0, 0, H]);
  const scale = scalar('const.sqrt_head_dim', Math.sqrt(headDim));

  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const group = groupForLayer(config, layer);
    for (let inner = 0; inner < config.inner_group_num; inner++) {
      const p = layerPrefix(group, inner);
      const q = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.query`, H, H), splitHeads])], { perm: [0, 2, 1, 3] });
      const k = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.key`, H, H), splitHeads])], { perm: [0, 2, 3, 1] });
      const v = op('Transpose', [op('Reshape', [linear(hidden, `${p}.attention.value`, H, H), splitHeads])], { perm: [0, 2, 1, 3] });
      const scaled = op('Div', [op('MatMul', [q, k]), scale]);
      const scores = withMask ? op('Add', [scaled, maskBias]) : scaled;
      const context = op('MatMul', [op('Softmax', [scores], { axis: -1 }), v]);
      const merged = op('Reshape', [op('Transpose', [context], { perm: [0, 2, 1, 3] }), mergeHeads]);
      const attended = layerNorm(op('Add', [hidden, linear(merged, `${p}.attention.dense`, H, H)]), `${p}.attention.LayerNorm`, H);
      const ffn = linear(activation(linear(attended, `${p}.ffn`, I, H)), `${p}.ffn_output`, H, I);
      const last = inner === config.inner_group_num - 1;
      hidden = layerNorm(op('Add', [ffn, attended]), `${p}.full_layer_layer_norm`, H, last ? hiddenStateName(layer + 1) : undefined);
    }
    hiddenStates.push(hidden);
  }
  const outputName = options.outputName ?? 'last_hidden_state';
  if (options.float16Output) op('Cast', [hidden], { to: DataType.FLOAT16 }, outputName);
  else op('Identity', [hidden], undefined, outputName);
  if (options.poolerOutput) {
    const first = op('Gather', [hidden, ints('const.zero_scalar', [0], [])], { axis: 1 });
    op('Tanh', [linear(first, 'pooler', H, H)], undefined, 'pooler_output');
  }

  const [batch, sequence] = options.fixedShape ?? ['batch_size', 'sequence_length'];
  const idsType = options.idsType === 'int32' ? DataType.INT32 : DataType.INT64;
  const maskType = options.maskType === 'float32' ? DataType.FLOAT : DataType.INT64;
  const tokenInput = (name: string, elemType: number = idsType): ValueInfo => ({ name, elemType, shape: [batch, sequence] });
  // Hidden-state outputs leave a dynamic sequence length undeclared. Shape inference loses it at
  // Range (the position ids), and a declared [batch, sequence, H] on every layer's output would
  // hand it back: onnxruntime would then fuse each residual Add + LayerNorm into
  // SkipLayerNormalization, which `npm run bench -- graph` measures 6% slower on CPU. Undeclared,
  // the graph with hidden-state outputs optimizes exactly as the one without.
  const hiddenStateOutput = (name: string): ValueInfo => ({ name, elemType: DataType.FLOAT, shape: [batch, options.fixedShape ? sequence : null, H] });
  return {
    irVersion: 8,
    producerName: options.producerName ?? 'albert-embed',
    producerVersion: options.producerVersion ?? '1',
    opsetImports: [{ domain: '', version: options.opset ?? 17 }],
    graph: {
      name: 'main_graph',
      nodes,
      initializers,
      inputs: [tokenInput('input_ids'), ...(withMask ? [tokenInput('attention_mask', maskType)] : []), ...(options.tokenTypeInput ? [tokenInput('token_type_ids')] : [])],
      outputs: [
        { name: outputName, elemType: options.float16Output ? DataType.FLOAT16 : DataType.FLOAT, shape: [batch, sequence, H] },
        ...(options.poolerOutput ? [{ name: 'pooler_output', elemType: DataType.FLOAT, shape: [batch, H] }] : []),
        ...(options.hiddenStates ? hiddenStates.map(hiddenStateOutput) : []),
      ],
    },
  };
}
