// The fields of a Hugging Face AlbertConfig (config.json) that the encoder graph depends on, read
// with transformers' own defaults (configuration_albert.py: AlbertConfig.__init__), since early
// configs such as albert-base-v2's omit some of them.
import { ModelError } from '../errors.js';

/** hidden_act values transformers' ACT2FN maps to functions this graph spells out. */
export const ALBERT_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_fast', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'] as const;
export type AlbertActivation = (typeof ALBERT_ACTIVATIONS)[number];

export interface AlbertConfig {
  vocab_size: number;
  embedding_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_hidden_groups: number;
  inner_group_num: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: AlbertActivation;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
}

const DEFAULTS: AlbertConfig = {
  vocab_size: 30000,
  embedding_size: 128,
  hidden_size: 4096,
  num_hidden_layers: 12,
  num_hidden_groups: 1,
  inner_group_num: 1,
  num_attention_heads: 64,
  intermediate_size: 16384,
  hidden_act: 'gelu_new',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
};

const INTEGER_FIELDS = [
  'vocab_size',
  'embedding_size',
  'hidden_size',
  'num_hidden_layers',
  'num_hidden_groups',
  'inner_group_num',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
] as const;

/**
 * An AlbertConfig from a parsed config.json; `source` names the file in errors. Refuses what the
 * graph cannot express: relative position embeddings, an unknown activation, a hidden size the
 * heads do not divide.
 */
export function parseAlbertConfig(raw: unknown, source: string): AlbertConfig {
  const bad = (what: string, hint: string) => new ModelError(`${source}: ${what}`, hint);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('is not a JSON object', 'config.json must hold the AlbertConfig fields');
  const json = raw as Record<string, unknown>;
  const config: AlbertConfig = { ...DEFAULTS };
  for (const key of INTEGER_FIELDS) {
    const value = json[key] ?? DEFAULTS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw bad(`${key} is ${JSON.stringify(value)}, not a positive integer`, 'fix config.json or download the checkpoint again');
    config[key] = value;
  }
  const eps = json.layer_norm_eps ?? DEFAULTS.layer_norm_eps;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad(`layer_norm_eps is ${JSON.stringify(eps)}, not a positive number`, 'fix config.json or download the checkpoint again');
  config.layer_norm_eps = eps;
  const act = json.hidden_act ?? DEFAULTS.hidden_act;
  if (!(ALBERT_ACTIVATIONS as readonly unknown[]).includes(act)) {
    throw bad(`hidden_act ${JSON.stringify(act)} is not supported`, `albert-embed converts ALBERT checkpoints whose hidden_act is one of ${ALBERT_ACTIVATIONS.join(', ')}`);
  }
  config.hidden_act = act as AlbertActivation;
  const positions = json.position_embedding_type ?? 'absolute';
  if (positions !== 'absolute') {
    throw bad(`position_embedding_type ${JSON.stringify(positions)} is not supported`, 'albert-embed converts ALBERT checkpoints with absolute position embeddings (every published ALBERT)');
  }
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw bad(`hidden_size ${config.hidden_size} is not a multiple of num_attention_heads ${config.num_attention_heads}`, 'fix config.json or download the checkpoint again');
  }
  return config;
}

/**
 * Which shared layer group runs at depth `layer`, exactly as transformers' AlbertTransformer picks
 * it: int(i / (num_hidden_layers / num_hidden_groups)), a float division.
 */
export function groupForLayer(config: AlbertConfig, layer: number): number {
  const layersPerGroup = config.num_hidden_layers / config.num_hidden_groups;
  return Math.floor(layer / layersPerGroup);
}

/** The Hugging Face AlbertModel key prefix of one layer's weights. */
export function layerPrefix(group: number, inner: number): string {
  return `encoder.albert_layer_groups.${group}.albert_layers.${inner}`;
}
