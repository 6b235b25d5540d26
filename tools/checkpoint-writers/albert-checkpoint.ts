// Whole ALBERT checkpoint folders as people download them from the hub, built from seeded
// weights: config.json (as recent transformers writes it, or as sparse as albert-base-v2's 2019
// one), the weights in any of the formats convert reads, with or without the `albert.` prefix and
// a pre-training head, and spiece.model, vocab.txt or tokenizer.json. The returned weights are
// AlbertModel's, after any float16 rounding, for the reference forward pass.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlbertActivation, AlbertConfig } from '../../src/graph/albert-config.js';
import { float16BitsToFloat32, float32ToFloat16 } from '../../src/model/float16.js';
import { generateWeights, uniform, type Weights } from '../fixture-builder/weights.js';
import { writeSafetensors } from './safetensors.js';
import { writeShardedSafetensors, writeShardedTorchBin } from './sharded.js';
import { PIECE_TYPE } from '../../src/checkpoint/sentencepiece.js';
import { englishAlbertModel, englishAlbertPieces, writeSentencePieceModel } from './sentencepiece-model.js';
import type { TorchView, TorchWeights } from './state-dict.js';
import { writeTorchLegacy } from './torch-legacy.js';
import { writeTorchZip } from './torch-zip.js';
import type { WeightEntry } from './weight-map.js';
import { chineseBertVocab } from './wordpiece-vocab.js';

export type CheckpointFormat = 'safetensors' | 'safetensors-sharded' | 'torch-zip' | 'torch-legacy' | 'torch-zip-sharded';
/**
 * spiece.model (English ALBERT; `pieces` pads it with never-chosen pieces to a real vocabulary's
 * size, 30,000 for albert-base-v2), vocab.txt lowercased (voidful) or cased (ckiplab), or a
 * tokenizer.json folder to copy.
 */
export type TokenizerKind = { kind: 'spiece'; pieces?: number } | { kind: 'vocab'; cased: boolean } | { kind: 'tokenizer.json'; from: string };
export type Head = 'none' | 'masked-lm' | 'pretraining' | 'classification';

export interface CheckpointSpec {
  format: CheckpointFormat;
  tokenizer: TokenizerKind;
  architecture: Omit<AlbertConfig, 'vocab_size' | 'hidden_act'> & { initializer_range: number };
  hiddenAct: AlbertActivation;
  seed: number;
  /** AlbertModel keys as they are, or under `albert.` with a head's weights beside them. */
  head: Head;
  pooler?: boolean;
  /** The `embeddings.position_ids` buffer (int64) that some exports carry. */
  positionIds?: boolean;
  /** config.json as transformers >= 3 writes it, or as albert-base-v2's: no model_type, architectures or layer_norm_eps. */
  config?: 'full' | 'sparse';
  /** How the float weights are stored; float16 values are what the model then is. */
  storage?: 'float32' | 'float16';
}

export interface BuiltCheckpoint {
  config: AlbertConfig;
  /** AlbertModel weights (no prefix, no head), as stored. */
  weights: Weights;
  files: string[];
}

const ARCHITECTURES: Record<Head, string> = { none: 'AlbertModel', 'masked-lm': 'AlbertForMaskedLM', pretraining: 'AlbertForPreTraining', classification: 'AlbertForSequenceClassification' };

function vocabulary(dir: string, tokenizer: TokenizerKind): number {
  switch (tokenizer.kind) {
    case 'spiece': {
      const pieces = englishAlbertPieces();
      for (let i = 0; pieces.length < (tokenizer.pieces ?? 0); i++) pieces.push({ piece: `▁unused${i}`, score: -50, type: PIECE_TYPE.normal });
      const model = englishAlbertModel(pieces);
      writeSentencePieceModel(join(dir, 'spiece.model'), model);
      return model.pieces.length;
    }
    case 'vocab': {
      const lines = chineseBertVocab({ cased: tokenizer.cased });
      writeFileSync(join(dir, 'vocab.txt'), lines);
      writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify({ do_lower_case: !tokenizer.cased, tokenizer_class: 'BertTokenizer' })}\n`);
      return lines.split('\n').length - 1;
    }
    case 'tokenizer.json': {
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) cpSync(join(tokenizer.from, f), join(dir, f));
      const json = JSON.parse(readFileSync(join(tokenizer.from, 'tokenizer.json'), 'utf8')) as { model: { vocab: unknown[] | Record<string, number> } };
      return Array.isArray(json.model.vocab) ? json.model.vocab.length : Object.keys(json.model.vocab).length;
    }
  }
}

export function writeAlbertCheckpoint(dir: string, spec: CheckpointSpec): BuiltCheckpoint {
  mkdirSync(dir, { recursive: true });
  const vocabSize = vocabulary(dir, spec.tokenizer);
  const config: AlbertConfig = { ...spec.architecture, vocab_size: vocabSize, hidden_act: spec.hiddenAct };
  const generated = generateWeights({ ...config, initializer_range: spec.architecture.initializer_range }, spec.seed);
  if (spec.pooler === false) {
    generated.delete('pooler.weight');
    generated.delete('pooler.bias');
  }
  // Float16 storage: the stored halves are the model, so the reference reads them widened back.
  const weights: Weights = new Map();
  const stored = new Map<string, WeightEntry | TorchView>();
  const prefix = spec.head === 'none' ? '' : 'albert.';
  for (const [name, t] of generated) {
    if (spec.storage === 'float16') {
      const bits = float32ToFloat16(t.data);
      weights.set(name, { shape: t.shape, data: float16BitsToFloat32(bits) });
      stored.set(prefix + name, { shape: t.shape, data: bits, bits: 'float16' });
    } else {
      weights.set(name, t);
      stored.set(prefix + name, { shape: t.shape, data: t.data });
    }
  }
  if (spec.positionIds) {
    const P = config.max_position_embeddings;
    stored.set(`${prefix}embeddings.position_ids`, { shape: [1, P], data: BigInt64Array.from({ length: P }, (_, i) => BigInt(i)) });
  }
  const rand = uniform(spec.seed + 1);
  const random = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5) });
  const { embedding_size: E, hidden_size: H } = config;
  if (spec.head === 'masked-lm' || spec.head === 'pretraining') {
    stored.set('predictions.bias', random([vocabSize]));
    stored.set('predictions.LayerNorm.weight', random([E]));
    stored.set('predictions.LayerNorm.bias', random([E]));
    stored.set('predictions.dense.weight', random([E, H]));
    stored.set('predictions.dense.bias', random([E]));
    // Tied to the word embeddings: torch.save stores one storage for both; safetensors leaves it out.
    if (spec.format.startsWith('torch')) {
      stored.set('predictions.decoder.weight', { viewOf: `${prefix}embeddings.word_embeddings.weight`, shape: [vocabSize, E], stride: [E, 1], storageOffset: 0 });
    }
    stored.set('predictions.decoder.bias', random([vocabSize]));
  }
  if (spec.head === 'pretraining') {
    stored.set('sop_classifier.classifier.weight', random([2, H]));
    stored.set('sop_classifier.classifier.bias', random([2]));
  }
  if (spec.head === 'classification') {
    stored.set('classifier.weight', random([3, H]));
    stored.set('classifier.bias', random([3]));
  }

  const files: string[] = [];
  const plain = () => new Map([...stored].filter((e): e is [string, WeightEntry] => !('viewOf' in e[1])));
  const halves = (names: string[]) => [names.slice(0, Math.ceil(names.length / 2)), names.slice(Math.ceil(names.length / 2))];
  switch (spec.format) {
    case 'safetensors':
      writeSafetensors(join(dir, 'model.safetensors'), plain(), { format: 'pt' });
      files.push('model.safetensors');
      break;
    case 'safetensors-sharded':
      files.push(...writeShardedSafetensors(dir, plain(), halves([...plain().keys()])));
      break;
    case 'torch-zip':
      writeTorchZip(join(dir, 'pytorch_model.bin'), stored as TorchWeights);
      files.push('pytorch_model.bin');
      break;
    case 'torch-legacy':
      writeTorchLegacy(join(dir, 'pytorch_model.bin'), stored as TorchWeights);
      files.push('pytorch_model.bin');
      break;
    case 'torch-zip-sharded': {
      // The tied decoder must sit in the shard with the storage it views.
      const names = [...stored.keys()];
      const [a, b] = halves(names.filter((n) => n !== 'predictions.decoder.weight'));
      const first = a.includes(`${prefix}embeddings.word_embeddings.weight`) ? a : b;
      if (stored.has('predictions.decoder.weight')) first.push('predictions.decoder.weight');
      files.push(...writeShardedTorchBin(dir, stored as TorchWeights, [a, b], 'zip'));
      break;
    }
  }

  const { initializer_range, ...architecture } = spec.architecture;
  const full = {
    architectures: [ARCHITECTURES[spec.head]],
    model_type: 'albert',
    ...architecture,
    initializer_range,
    hidden_act: spec.hiddenAct,
    vocab_size: vocabSize,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    pad_token_id: 0,
    bos_token_id: 2,
    eos_token_id: 3,
    transformers_version: '4.46.0',
  };
  const { architectures: _a, model_type: _m, layer_norm_eps: _l, transformers_version: _t, pad_token_id: _p, bos_token_id: _b, eos_token_id: _e, ...sparse } = full;
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(spec.config === 'sparse' ? sparse : full, null, 2)}\n`);
  return { config, weights, files };
}
