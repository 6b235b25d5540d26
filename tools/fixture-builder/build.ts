// Builds tiny ALBERT checkpoints in the Hugging Face / Transformers.js folder layout:
// config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json, onnx/model.onnx.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlbertActivation, AlbertConfig } from '../../src/graph/albert-config.js';
import { buildAlbertGraph, type GraphOptions } from '../../src/graph/albert.js';
import { type WriteOptions, writeOnnxModel } from '../../src/graph/onnx.js';
import { CHINESE_TOKENIZER_CONFIG, ENGLISH_TOKENIZER_CONFIG, chineseWordPieceTokenizer, englishUnigramTokenizer } from './tokenizers.js';
import { generateWeights, weightSource, type Weights } from './weights.js';

/** config.json as the builder writes it: the graph's fields and the few a checkpoint also carries. */
export type FixtureConfig = AlbertConfig & { model_type: 'albert'; position_embedding_type: 'absolute'; pad_token_id: number; initializer_range: number };

export type Architecture = Omit<FixtureConfig, 'vocab_size' | 'model_type' | 'hidden_act' | 'position_embedding_type' | 'pad_token_id'>;

/** A checkpoint to build: its tokenizer language, architecture, weight seed and graph shape. */
export interface ModelSpec extends GraphOptions, WriteOptions {
  language: 'en' | 'zh';
  architecture: Architecture;
  /** gelu_new (the default) as in albert-*-v2; Chinese ALBERT checkpoints use gelu or relu. */
  hiddenAct?: AlbertActivation;
  seed: number;
  /** File name under onnx/: model.onnx unless a dtype file is being built. */
  onnxFile?: string;
}

export const TINY_EN: ModelSpec = {
  language: 'en',
  seed: 20261129,
  tokenTypeInput: true,
  architecture: {
    embedding_size: 32,
    hidden_size: 64,
    num_hidden_layers: 4,
    num_hidden_groups: 2,
    inner_group_num: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    max_position_embeddings: 128,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.1,
  },
};

export const TINY_ZH: ModelSpec = {
  language: 'zh',
  seed: 7,
  tokenTypeInput: true,
  architecture: {
    embedding_size: 24,
    hidden_size: 48,
    num_hidden_layers: 3,
    num_hidden_groups: 1,
    inner_group_num: 1,
    num_attention_heads: 3,
    intermediate_size: 96,
    max_position_embeddings: 256,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.1,
  },
};

export interface BuiltModel {
  config: FixtureConfig;
  weights: Weights;
}

function json(path: string, value: unknown) {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function buildModelFolder(dir: string, spec: ModelSpec): BuiltModel {
  const tokenizer = spec.language === 'en' ? englishUnigramTokenizer() : chineseWordPieceTokenizer();
  const tokenizerConfig = spec.language === 'en' ? ENGLISH_TOKENIZER_CONFIG : CHINESE_TOKENIZER_CONFIG;
  const config: FixtureConfig = {
    model_type: 'albert',
    vocab_size: tokenizer.vocabSize,
    hidden_act: spec.hiddenAct ?? 'gelu_new',
    position_embedding_type: 'absolute',
    pad_token_id: 0,
    ...spec.architecture,
  };
  const weights = generateWeights(config, spec.seed);
  const graph = buildAlbertGraph(config, weightSource(weights), { producerName: 'albert-embed fixture builder', ...spec });

  mkdirSync(join(dir, 'onnx'), { recursive: true });
  json(join(dir, 'config.json'), {
    architectures: ['AlbertModel'],
    ...config,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    bos_token_id: 2,
    eos_token_id: 3,
    transformers_version: '4.46.0',
  });
  json(join(dir, 'tokenizer.json'), tokenizer.json);
  json(join(dir, 'tokenizer_config.json'), tokenizerConfig);
  const { model_max_length: _, tokenizer_class: __, ...special } = tokenizerConfig as Record<string, unknown>;
  json(
    join(dir, 'special_tokens_map.json'),
    Object.fromEntries(Object.entries(special).filter(([k]) => k.endsWith('_token'))),
  );
  writeOnnxModel(join(dir, 'onnx', spec.onnxFile ?? 'model.onnx'), graph, spec);
  return { config, weights };
}
