// The few config.json fields the embedder depends on.
import { ModelError } from '../errors.js';
import { readJson } from './folder.js';

export interface ModelConfig {
  modelType: string;
  hiddenSize: number;
  embeddingSize?: number;
  numLayers?: number;
  numHeads?: number;
  intermediateSize?: number;
  maxPositions?: number;
  /** External-data chunk count Transformers.js exports declare in config.json, if any. */
  externalData?: boolean | number | Record<string, boolean | number>;
}

const positiveInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

export function readModelConfig(path: string): ModelConfig {
  const raw = readJson(path, 'model config');
  const hiddenSize = positiveInt(raw.hidden_size);
  if (!hiddenSize) {
    throw new ModelError(`model config ${path} has no positive integer hidden_size`, 'albert-embed reads ALBERT/BERT-style configs (hidden_size, max_position_embeddings)');
  }
  const jsConfig = (raw['transformers.js_config'] ?? {}) as Record<string, unknown>;
  return {
    modelType: typeof raw.model_type === 'string' ? raw.model_type : 'unknown',
    hiddenSize,
    embeddingSize: positiveInt(raw.embedding_size),
    numLayers: positiveInt(raw.num_hidden_layers),
    numHeads: positiveInt(raw.num_attention_heads),
    intermediateSize: positiveInt(raw.intermediate_size),
    maxPositions: positiveInt(raw.max_position_embeddings),
    externalData: jsConfig.use_external_data_format as ModelConfig['externalData'],
  };
}
