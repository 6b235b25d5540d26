// Seeded random ALBERT weights under Hugging Face parameter names, in PyTorch layout
// (Linear weights are [out, in]). Both the ONNX builder and the test-side reference forward
// pass read this one map, so they compute over identical numbers.
import { type AlbertConfig, layerPrefix } from '../../src/graph/albert-config.js';
import type { WeightSource } from '../../src/graph/albert.js';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}
export type Weights = Map<string, Tensor>;

/** mulberry32: tiny, fast and fully determined by its 32-bit seed. */
export function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(next: () => number): () => number {
  return () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
}

export function generateWeights(config: AlbertConfig & { initializer_range: number }, seed: number): Weights {
  const gauss = normal(uniform(seed));
  const weights: Weights = new Map();
  const add = (name: string, shape: number[], mean: number, std: number) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * gauss();
    weights.set(name, { shape, data });
  };
  const std = config.initializer_range;
  const linear = (name: string, out: number, inp: number) => {
    add(`${name}.weight`, [out, inp], 0, std);
    add(`${name}.bias`, [out], 0, std / 4);
  };
  // LayerNorm gains around 1 and non-zero biases, so a wrong epsilon or a skipped norm shows.
  const layerNorm = (name: string, dim: number) => {
    add(`${name}.weight`, [dim], 1, 0.1);
    add(`${name}.bias`, [dim], 0, 0.1);
  };

  const { embedding_size: E, hidden_size: H, intermediate_size: I } = config;
  add('embeddings.word_embeddings.weight', [config.vocab_size, E], 0, 1);
  add('embeddings.position_embeddings.weight', [config.max_position_embeddings, E], 0, 0.5);
  add('embeddings.token_type_embeddings.weight', [config.type_vocab_size, E], 0, 0.5);
  layerNorm('embeddings.LayerNorm', E);
  linear('encoder.embedding_hidden_mapping_in', H, E);
  for (let g = 0; g < config.num_hidden_groups; g++) {
    for (let j = 0; j < config.inner_group_num; j++) {
      const p = layerPrefix(g, j);
      linear(`${p}.attention.query`, H, H);
      linear(`${p}.attention.key`, H, H);
      linear(`${p}.attention.value`, H, H);
      linear(`${p}.attention.dense`, H, H);
      layerNorm(`${p}.attention.LayerNorm`, H);
      linear(`${p}.ffn`, I, H);
      linear(`${p}.ffn_output`, H, I);
      layerNorm(`${p}.full_layer_layer_norm`, H);
    }
  }
  // Drawn last so that adding it left every earlier tensor (and the committed fixtures) unchanged.
  linear('pooler', H, H);
  return weights;
}

/** The map as the graph builder reads checkpoints. */
export function weightSource(weights: Weights): WeightSource {
  const get = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`no weight ${name}`);
    return t;
  };
  return { shape: (name) => weights.get(name)?.shape, float32: (name) => get(name).data };
}

/** weightSource(weights), counting the reads of each weight (tests of lazy, read-once writers). */
export function countingWeightSource(weights: Weights): { source: WeightSource; reads: Map<string, number> } {
  const inner = weightSource(weights);
  const reads = new Map<string, number>();
  return { reads, source: { shape: inner.shape, float32: (name) => (reads.set(name, (reads.get(name) ?? 0) + 1), inner.float32(name)) } };
}
