// The config.json fields the embedder depends on. Those that decide whether the checkpoint can
// run at all are required: a missing one is refused at load, before any output.
import { ModelError } from '../errors.js';
import { readJson } from './folder.js';

export interface ModelConfig {
  modelType: string;
  hiddenSize: number;
  /** Rows of the word embedding table: every token id must be below it. */
  vocabSize: number;
  /** Rows of the position embedding table: no sequence may be longer. */
  maxPositions: number;
  embeddingSize?: number;
  numLayers?: number;
  numHeads?: number;
  intermediateSize?: number;
  /** External-data chunk count Transformers.js exports declare in config.json, if any. */
  externalData?: boolean | number | Record<string, boolean | number>;
}

const positiveInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

export function readModelConfig(path: string): ModelConfig {
  const raw = readJson(path, 'model config');
  const required = (field: string, why: string): number => {
    const value = positiveInt(raw[field]);
    if (value === undefined) {
      const got = raw[field] === undefined ? 'has no' : `has a bad ${JSON.stringify(raw[field])} as`;
      throw new ModelError(`model config ${path} ${got} ${field} (a positive integer: ${why})`, 'the checkpoint\'s config.json is incomplete; fetch it again from where the checkpoint came from');
    }
    return value;
  };
  const jsConfig = (raw['transformers.js_config'] ?? {}) as Record<string, unknown>;
  return {
    modelType: typeof raw.model_type === 'string' ? raw.model_type : 'unknown',
    hiddenSize: required('hidden_size', 'the width of every row'),
    vocabSize: required('vocab_size', 'the size of the token embedding table'),
    maxPositions: required('max_position_embeddings', 'the longest sequence the model takes'),
    embeddingSize: positiveInt(raw.embedding_size),
    numLayers: positiveInt(raw.num_hidden_layers),
    numHeads: positiveInt(raw.num_attention_heads),
    intermediateSize: positiveInt(raw.intermediate_size),
    externalData: jsConfig.use_external_data_format as ModelConfig['externalData'],
  };
}
