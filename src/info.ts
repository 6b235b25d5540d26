// `albert-embed info`: what a checkpoint holds, as the embedder sees it.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { mapAlbertWeights } from './checkpoint/albert-keys.js';
import { openCheckpointWeights } from './checkpoint/weights.js';
import { conversionOf, isCheckpointToConvert } from './convert/auto.js';
import { readCheckpointFolder } from './convert/checkpoint-folder.js';
import type { AlbertConfig } from './graph/albert-config.js';
import { openEmbedder } from './embedder.js';
import type { EmbedderSettings, Naming } from './options.js';
import type { TensorInfo } from './model/session.js';

export interface ModelInfo {
  kind: 'model';
  model: string;
  source: 'local' | 'hub';
  folder: string;
  /** The checkpoint folder this model was converted from, when --model named a checkpoint. */
  converted_from?: string;
  files: Array<{ path: string; bytes: number }>;
  dtypes: string[];
  onnx: string;
  config: {
    model_type: string;
    hidden_size: number;
    embedding_size?: number;
    num_hidden_layers?: number;
    num_attention_heads?: number;
    intermediate_size?: number;
    max_position_embeddings?: number;
  };
  tokenizer: { kind: string; class: string; vocab_size: number; model_max_length?: number; special_prefix: number[]; special_suffix: number[] };
  max_length: number;
  dim: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  device: string;
  onnxruntime: string;
}

function listFiles(dir: string, base = dir): Array<{ path: string; bytes: number }> {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), base) : [{ path: relative(base, join(dir, e.name)), bytes: statSync(join(dir, e.name)).size }]))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** A checkpoint folder not converted yet: what it holds, and where extract will convert it. */
export interface CheckpointInfo {
  kind: 'checkpoint';
  model: string;
  source: 'local';
  folder: string;
  files: Array<{ path: string; bytes: number }>;
  weights: { format: string; files: string[]; tensors: number; prefix: string; pooler: boolean };
  config: AlbertConfig;
  tokenizer: { source: string };
  /** The cache folder extract converts it into on first use. */
  converted_into: string;
}

async function describeCheckpoint(settings: EmbedderSettings): Promise<CheckpointInfo | undefined> {
  if (!isCheckpointToConvert(settings.model)) return undefined;
  const dir = resolve(settings.model.model);
  const conversion = await conversionOf(dir, settings.model.hub.cacheDir);
  if (conversion.done) return undefined;
  const checkpoint = readCheckpointFolder(dir);
  const weights = openCheckpointWeights(dir);
  try {
    const mapped = mapAlbertWeights(weights, checkpoint.config, dir);
    return {
      kind: 'checkpoint',
      model: settings.model.model,
      source: 'local',
      folder: dir,
      files: listFiles(dir),
      weights: { format: weights.format, files: weights.files.map((f) => relative(dir, f)), tensors: weights.tensors.size, prefix: mapped.prefix, pooler: mapped.hasPooler },
      config: checkpoint.config,
      tokenizer: { source: checkpoint.tokenizerSource },
      converted_into: conversion.target,
    };
  } finally {
    weights.close();
  }
}

export async function describeModel(settings: EmbedderSettings, notice: (message: string) => void = () => {}, naming: Naming = 'library'): Promise<ModelInfo | CheckpointInfo> {
  const checkpoint = await describeCheckpoint(settings);
  if (checkpoint) return checkpoint;
  const embedder = await openEmbedder(settings, notice, naming);
  try {
    const { files, config, tokenizer, session } = embedder.loaded;
    return {
      kind: 'model',
      model: embedder.description.spec,
      source: embedder.description.source,
      folder: files.dir,
      ...(embedder.description.convertedFrom ? { converted_from: embedder.description.convertedFrom } : {}),
      files: listFiles(files.dir),
      dtypes: files.dtypesPresent,
      onnx: relative(files.dir, files.onnx),
      config: {
        model_type: config.modelType,
        hidden_size: config.hiddenSize,
        embedding_size: config.embeddingSize,
        num_hidden_layers: config.numLayers,
        num_attention_heads: config.numHeads,
        intermediate_size: config.intermediateSize,
        max_position_embeddings: config.maxPositions,
      },
      tokenizer: {
        kind: tokenizer.kind,
        class: tokenizer.className,
        vocab_size: tokenizer.vocabSize,
        model_max_length: tokenizer.modelMaxLength,
        special_prefix: [...tokenizer.prefix],
        special_suffix: [...tokenizer.suffix],
      },
      max_length: embedder.maxLength,
      dim: embedder.dim,
      inputs: [...session.inputs],
      outputs: [...session.outputs],
      device: session.device,
      onnxruntime: embedder.description.onnxruntime,
    };
  } finally {
    await embedder.close();
  }
}

// An undeclared dimension (hidden states leave their length open on purpose) reads as '?'.
const shape = (t: TensorInfo) => `${t.name} ${t.type} [${t.shape.map((d) => (d === '' ? '?' : d)).join(', ')}]`;

function formatCheckpointInfo(info: CheckpointInfo): string {
  const c = info.config;
  const rows: Array<[string, string]> = [
    ['model', `${info.model} (a checkpoint without ONNX files)`],
    ['folder', info.folder],
    ['files', info.files.map((f) => `${f.path} (${f.bytes} B)`).join(', ')],
    ['weights', `${info.weights.format}: ${info.weights.files.join(', ')}, ${info.weights.tensors} tensors${info.weights.prefix ? ` under ${info.weights.prefix}` : ''}${info.weights.pooler ? ', with pooler' : ''}`],
    ['config', `albert: hidden ${c.hidden_size}, embedding ${c.embedding_size}, layers ${c.num_hidden_layers} (${c.num_hidden_groups} groups x ${c.inner_group_num} inner), heads ${c.num_attention_heads}, ffn ${c.intermediate_size}, ${c.hidden_act}, positions ${c.max_position_embeddings}, vocab ${c.vocab_size}`],
    ['tokenizer', info.tokenizer.source === 'tokenizer.json' ? 'tokenizer.json (used as it is)' : `${info.tokenizer.source} (converted to tokenizer.json)`],
    ['conversion', `extract converts it on first use into ${info.converted_into} (or run albert-embed convert)`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n');
}

export function formatModelInfo(info: ModelInfo | CheckpointInfo): string {
  if (info.kind === 'checkpoint') return formatCheckpointInfo(info);
  const c = info.config;
  const dims = [
    `hidden ${c.hidden_size}`,
    c.embedding_size && `embedding ${c.embedding_size}`,
    c.num_hidden_layers && `layers ${c.num_hidden_layers}`,
    c.num_attention_heads && `heads ${c.num_attention_heads}`,
    c.intermediate_size && `ffn ${c.intermediate_size}`,
    c.max_position_embeddings && `positions ${c.max_position_embeddings}`,
  ].filter(Boolean);
  const rows: Array<[string, string]> = [
    ['model', `${info.model} (${info.source})`],
    ['folder', info.folder],
    ...(info.converted_from ? [['converted', `from the checkpoint ${info.converted_from}`] as [string, string]] : []),
    ['files', info.files.map((f) => `${f.path} (${f.bytes} B)`).join(', ')],
    ['dtypes', info.dtypes.join(', ') || 'none'],
    ['graph', info.onnx],
    ['config', `${c.model_type}: ${dims.join(', ')}`],
    ['tokenizer', `${info.tokenizer.kind} (${info.tokenizer.class}), vocab ${info.tokenizer.vocab_size}, model_max_length ${info.tokenizer.model_max_length ?? 'none'}`],
    ['max length', String(info.max_length)],
    ['dim', String(info.dim)],
    ['inputs', info.inputs.map(shape).join('; ')],
    ['outputs', info.outputs.map(shape).join('; ')],
    ['runtime', `onnxruntime-node ${info.onnxruntime} on ${info.device}`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n');
}
