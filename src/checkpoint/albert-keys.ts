// Checkpoint keys as they occur in real ALBERT checkpoints, mapped onto AlbertModel's: plain
// AlbertModel keys, or the `albert.` prefix of AlbertForMaskedLM / AlbertForPreTraining /
// AlbertFor{SequenceClassification,...} with their heads (predictions.*, sop_classifier.*,
// classifier.*, qa_outputs.*) left out. Every key the encoder needs is checked for presence and
// shape against config.json before a byte of the graph is written.
import { ModelError } from '../errors.js';
import { type AlbertConfig, layerPrefix } from '../graph/albert-config.js';
import type { WeightSource } from '../graph/albert.js';
import type { CheckpointWeights } from './weights.js';

const HEADS = ['predictions.', 'sop_classifier.', 'classifier.', 'qa_outputs.', 'cls.'];
/** Buffers some exports carry; the graph computes positions itself. */
const IGNORED = ['embeddings.position_ids'];

/** Every AlbertModel weight the encoder reads, with the shape config.json implies. */
function albertWeightShapes(config: AlbertConfig): Map<string, number[]> {
  const { vocab_size: V, embedding_size: E, hidden_size: H, intermediate_size: I } = config;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [V, E]],
    ['embeddings.position_embeddings.weight', [config.max_position_embeddings, E]],
    ['embeddings.token_type_embeddings.weight', [config.type_vocab_size, E]],
  ]);
  const linear = (name: string, out: number, inp: number) => {
    shapes.set(`${name}.weight`, [out, inp]);
    shapes.set(`${name}.bias`, [out]);
  };
  const norm = (name: string, dim: number) => {
    shapes.set(`${name}.weight`, [dim]);
    shapes.set(`${name}.bias`, [dim]);
  };
  norm('embeddings.LayerNorm', E);
  linear('encoder.embedding_hidden_mapping_in', H, E);
  for (let g = 0; g < config.num_hidden_groups; g++) {
    for (let j = 0; j < config.inner_group_num; j++) {
      const p = layerPrefix(g, j);
      for (const part of ['query', 'key', 'value', 'dense']) linear(`${p}.attention.${part}`, H, H);
      norm(`${p}.attention.LayerNorm`, H);
      linear(`${p}.ffn`, I, H);
      linear(`${p}.ffn_output`, H, I);
      norm(`${p}.full_layer_layer_norm`, H);
    }
  }
  return shapes;
}

const POOLER = new Map([
  ['pooler.weight', (c: AlbertConfig) => [c.hidden_size, c.hidden_size]],
  ['pooler.bias', (c: AlbertConfig) => [c.hidden_size]],
]);

export interface MappedWeights extends WeightSource {
  /** The stored key prefix the AlbertModel keys sit under: '' or 'albert.'. */
  readonly prefix: string;
  /** Whether the checkpoint carries AlbertModel's pooler. */
  readonly hasPooler: boolean;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Old TF-converted checkpoints name LayerNorm parameters gamma/beta; transformers renames them
 * to weight/bias when it loads a state dict, and so does this.
 */
function storedName(tensors: ReadonlyMap<string, unknown>, prefix: string, name: string): string | undefined {
  const direct = `${prefix}${name}`;
  if (tensors.has(direct)) return direct;
  const legacy = direct.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
  return legacy !== direct && /LayerNorm|layer_norm/.test(name) && tensors.has(legacy) ? legacy : undefined;
}

/** AlbertModel's view of a checkpoint's weights; throws ModelError naming the first bad key. */
export function mapAlbertWeights(weights: CheckpointWeights, config: AlbertConfig, source: string): MappedWeights {
  const tensors = weights.tensors;
  const keys = [...tensors.keys()];
  const prefix = keys.some((k) => k.startsWith('albert.')) ? 'albert.' : '';
  // The pooler is optional: checked only when all of it is there.
  const hasPooler = [...POOLER.keys()].every((n) => storedName(tensors, prefix, n) !== undefined);
  const expected = [...albertWeightShapes(config), ...(hasPooler ? [...POOLER].map(([name, shapeOf]) => [name, shapeOf(config)] as const) : [])];
  const hint = 'the weights and config.json must come from the same ALBERT checkpoint';
  const names = new Map<string, string>();
  for (const [name, shape] of expected) {
    const stored = storedName(tensors, prefix, name);
    if (stored === undefined) {
      throw new ModelError(`checkpoint ${source} has no weight ${prefix}${name} (expected shape ${shapeText(shape)} from config.json)`, hint);
    }
    const got = tensors.get(stored)!.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new ModelError(`checkpoint ${source}: weight ${stored} has shape ${shapeText(got)}, but config.json implies ${shapeText(shape)}`, hint);
    }
    names.set(name, stored);
  }
  // An encoder or embedding weight the config does not account for (a layer group past
  // num_hidden_groups, say) means config.json and the weights disagree.
  const used = new Set(names.values());
  for (const key of keys) {
    if (!key.startsWith(prefix) || used.has(key)) continue;
    const name = key.slice(prefix.length);
    if (IGNORED.includes(name) || HEADS.some((h) => name.startsWith(h)) || (prefix === '' && HEADS.some((h) => key.startsWith(h)))) continue;
    if (name.startsWith('embeddings.') || name.startsWith('encoder.') || name.startsWith('pooler.')) {
      throw new ModelError(`checkpoint ${source} has a weight ${key} that config.json does not account for (num_hidden_groups ${config.num_hidden_groups}, inner_group_num ${config.inner_group_num})`, hint);
    }
  }
  return {
    prefix,
    hasPooler,
    shape: (name) => {
      const stored = names.get(name);
      return stored === undefined ? undefined : tensors.get(stored)!.shape;
    },
    float32: (name) => {
      const stored = names.get(name);
      if (stored === undefined) throw new Error(`no weight ${name} in the mapped checkpoint`);
      return weights.readFloat32(stored);
    },
  };
}
