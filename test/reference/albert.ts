// An independent ALBERT forward pass in plain TypeScript, float64 throughout, written from
// transformers' modeling_albert.py (AlbertEmbeddings, AlbertTransformer, AlbertLayer with eager
// attention). It shares no code with the ONNX graph builder: only the weight map and config.
import type { AlbertConfig } from '../../tools/fixture-builder/albert-config.js';
import type { Weights } from '../../tools/fixture-builder/weights.js';

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

const geluNew = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const add = (a: Matrix, b: Matrix): Matrix => a.map((row, t) => row.map((v, i) => v + b[t][i]));

function attention(h: Matrix, weights: Weights, p: string, config: AlbertConfig): Matrix {
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

function albertLayer(h: Matrix, weights: Weights, p: string, config: AlbertConfig): Matrix {
  const attended = attention(h, weights, p, config);
  const ffn = linear(linear(attended, weights, `${p}.ffn`).map((row) => row.map(geluNew)), weights, `${p}.ffn_output`);
  return layerNorm(add(ffn, attended), weights, `${p}.full_layer_layer_norm`, config.layer_norm_eps);
}

/** last_hidden_state [tokens][hidden] of one unpadded sequence. */
export function albertForward(config: AlbertConfig, weights: Weights, ids: readonly number[], tokenTypes?: readonly number[]): Matrix {
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
  const layersPerGroup = config.num_hidden_layers / config.num_hidden_groups;
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const group = Math.floor(i / layersPerGroup);
    for (let j = 0; j < config.inner_group_num; j++) {
      h = albertLayer(h, weights, `encoder.albert_layer_groups.${group}.albert_layers.${j}`, config);
    }
  }
  return h;
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
