// An independent ALBERT forward pass in plain TypeScript, float64 throughout, written from
// transformers' modeling_albert.py (AlbertEmbeddings, AlbertTransformer, AlbertLayer with eager
// attention, the pooler of AlbertModel) and activations.py (ACT2FN). It shares no code with the
// ONNX graph builder (src/graph): only the weight map and the config's numbers.
import type { Weights } from '../../tools/fixture-builder/weights.js';

/** The config fields the forward pass reads (structurally, any AlbertConfig). */
export interface ReferenceConfig {
  embedding_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_hidden_groups: number;
  inner_group_num: number;
  num_attention_heads: number;
  hidden_act: string;
  layer_norm_eps: number;
}

type Matrix = Float64Array[]; // [tokens][features]

function get(weights: Weights, name: string) {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: no weight ${name}`);
  return t;
}

/** y = x W^T + b with W in PyTorch [out, in] layout. */
function linear(x: Matrix, weights: Weights, name: string): Matrix {
  const w = get(weights, `${name}.weight`);
  const b = get(weights, `${name}.bias`).data;
  const [out, inp] = w.shape;
  return x.map((row) => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inp; i++) s += row[i] * w.data[o * inp + i];
      y[o] = s;
    }
    return y;
  });
}

function layerNorm(x: Matrix, weights: Weights, name: string, eps: number): Matrix {
  const g = get(weights, `${name}.weight`).data;
  const b = get(weights, `${name}.bias`).data;
  return x.map((row) => {
    const n = row.length;
    const mean = row.reduce((a, v) => a + v, 0) / n;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    const inv = 1 / Math.sqrt(variance + eps);
    return row.map((v, i) => (v - mean) * inv * g[i] + b[i]);
  });
}

/**
 * erf to ~1e-13: its Maclaurin series below 3 (terms peak near 10^3.5, so float64 keeps ~12
 * digits), and above, 1 - erfc with erfc's continued fraction (Abramowitz & Stegun 7.1.14).
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let fraction = ax;
  for (let n = 60; n >= 1; n--) fraction = ax + n / 2 / fraction;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * fraction));
}

// ACT2FN: gelu is nn.functional.gelu (erf); gelu_new, gelu_pytorch_tanh and gelu_fast the tanh
// approximation, each in its own formula; silu/swish x * sigmoid(x).
const ACTIVATIONS: Record<string, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  gelu_pytorch_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  gelu_fast: (x) => 0.5 * x * (1 + Math.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
  relu: (x) => Math.max(0, x),
  silu: (x) => x / (1 + Math.exp(-x)),
  swish: (x) => x / (1 + Math.exp(-x)),
};

const add = (a: Matrix, b: Matrix): Matrix => a.map((row, t) => row.map((v, i) => v + b[t][i]));

function attention(h: Matrix, weights: Weights, p: string, config: ReferenceConfig): Matrix {
  const q = linear(h, weights, `${p}.attention.query`);
  const k = linear(h, weights, `${p}.attention.key`);
  const v = linear(h, weights, `${p}.attention.value`);
  const heads = config.num_attention_heads;
  const hd = config.hidden_size / heads;
  const n = h.length;
  const context: Matrix = h.map(() => new Float64Array(config.hidden_size));
  for (let head = 0; head < heads; head++) {
    const off = head * hd;
    for (let t = 0; t < n; t++) {
      const scores = new Float64Array(n);
      for (let s = 0; s < n; s++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[t][off + d] * k[s][off + d];
        scores[s] = dot / Math.sqrt(hd);
      }
      const max = Math.max(...scores);
      const exp = scores.map((s) => Math.exp(s - max));
      const sum = exp.reduce((a, e) => a + e, 0);
      for (let s = 0; s < n; s++) {
        const w = exp[s] / sum;
        for (let d = 0; d < hd; d++) context[t][off + d] += w * v[s][off + d];
      }
    }
  }
  const projected = linear(context, weights, `${p}.attention.dense`);
  return layerNorm(add(h, projected), weights, `${p}.attention.LayerNorm`, config.layer_norm_eps);
}

function albertLayer(h: Matrix, weights: Weights, p: string, config: ReferenceConfig): Matrix {
  const act = ACTIVATIONS[config.hidden_act];
  if (!act) throw new Error(`reference: no activation ${config.hidden_act}`);
  const attended = attention(h, weights, p, config);
  const ffn = linear(linear(attended, weights, `${p}.ffn`).map((row) => row.map(act)), weights, `${p}.ffn_output`);
  return layerNorm(add(ffn, attended), weights, `${p}.full_layer_layer_norm`, config.layer_norm_eps);
}

/**
 * AlbertModel's hidden_states tuple for one unpadded sequence: [0] the embedding_hidden_mapping_in
 * output, [i + 1] the output of AlbertTransformer's i-th loop iteration (one layer group, all of
 * its inner layers), so the last is last_hidden_state.
 */
export function albertHiddenStates(config: ReferenceConfig, weights: Weights, ids: readonly number[], tokenTypes?: readonly number[]): Matrix[] {
  const E = config.embedding_size;
  const word = get(weights, 'embeddings.word_embeddings.weight').data;
  const pos = get(weights, 'embeddings.position_embeddings.weight').data;
  const type = get(weights, 'embeddings.token_type_embeddings.weight').data;
  const embedded: Matrix = ids.map((id, t) => {
    const tt = tokenTypes?.[t] ?? 0;
    const row = new Float64Array(E);
    for (let e = 0; e < E; e++) row[e] = word[id * E + e] + type[tt * E + e] + pos[t * E + e];
    return row;
  });
  let h = linear(layerNorm(embedded, weights, 'embeddings.LayerNorm', config.layer_norm_eps), weights, 'encoder.embedding_hidden_mapping_in');
  const states = [h];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const group = Math.floor(i / (config.num_hidden_layers / config.num_hidden_groups));
    for (let j = 0; j < config.inner_group_num; j++) {
      h = albertLayer(h, weights, `encoder.albert_layer_groups.${group}.albert_layers.${j}`, config);
    }
    states.push(h);
  }
  return states;
}

/** last_hidden_state [tokens][hidden] of one unpadded sequence. */
export function albertForward(config: ReferenceConfig, weights: Weights, ids: readonly number[], tokenTypes?: readonly number[]): Matrix {
  return albertHiddenStates(config, weights, ids, tokenTypes).at(-1)!;
}

/** AlbertModel's pooler_output: tanh(pooler(last_hidden_state[0])). */
export function albertPooler(weights: Weights, lastHidden: Matrix): Float64Array {
  return linear([lastHidden[0]], weights, 'pooler')[0].map(Math.tanh);
}

export function referencePool(hidden: Matrix, pooling: 'mean' | 'cls' | 'max'): Float64Array {
  const dim = hidden[0].length;
  if (pooling === 'cls') return Float64Array.from(hidden[0]);
  const out = new Float64Array(dim).fill(pooling === 'max' ? -Infinity : 0);
  for (const row of hidden) {
    for (let d = 0; d < dim; d++) out[d] = pooling === 'max' ? Math.max(out[d], row[d]) : out[d] + row[d] / hidden.length;
  }
  return out;
}
