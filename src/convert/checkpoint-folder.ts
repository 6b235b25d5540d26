// What a checkpoint folder (as downloaded from the hub, before any ONNX export) holds: its
// config, its tokenizer source and its weights file, read with the checks convert needs first.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { type AlbertConfig, parseAlbertConfig } from '../graph/albert-config.js';
import { readJson } from '../model/folder.js';

/** Weight files convert reads, in the order it prefers them (transformers' order). */
export const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;
/** Tokenizer sources, in the order they are used: an existing tokenizer.json wins. */
export const TOKENIZER_SOURCES = ['tokenizer.json', 'spiece.model', 'vocab.txt'] as const;
/** Tokenizer files read alongside the source when present. */
export const TOKENIZER_EXTRAS = ['tokenizer_config.json', 'special_tokens_map.json'] as const;

export interface CheckpointFolder {
  dir: string;
  /** config.json as written. */
  rawConfig: Record<string, unknown>;
  config: AlbertConfig;
  tokenizerSource: (typeof TOKENIZER_SOURCES)[number];
}

/** Whether `dir` holds weights convert can read (it may hold an ONNX export as well). */
export function hasCheckpointWeights(dir: string): boolean {
  return WEIGHT_FILES.some((f) => existsSync(join(dir, f)));
}

/**
 * model_type decides: an ALBERT config says "albert"; early configs (albert-base-v2's) say
 * nothing, and then the architectures, if any, must be ALBERT ones.
 */
function checkAlbert(raw: Record<string, unknown>, path: string): void {
  const modelType = raw.model_type;
  const architectures = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  const hint = 'albert-embed converts ALBERT checkpoints (model_type "albert"); for other models use their own tools';
  if (modelType !== undefined && modelType !== 'albert') throw new ModelError(`checkpoint config ${path} has model_type ${JSON.stringify(modelType)}, not "albert"`, hint);
  if (modelType === undefined && architectures.length > 0 && !architectures.some((a) => a.startsWith('Albert'))) {
    throw new ModelError(`checkpoint config ${path} has no model_type and names architectures ${architectures.join(', ')}, none of them ALBERT`, hint);
  }
}

export function readCheckpointFolder(folder: string): CheckpointFolder {
  const dir = resolve(folder);
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('it is not a folder');
    names = readdirSync(dir);
  } catch (err) {
    throw new ModelError(`checkpoint folder ${folder} cannot be read: ${errorMessage(err)}`, 'pass a folder holding config.json and the weights, or a hub id', { cause: err });
  }
  if (!names.includes('config.json')) {
    throw new ModelError(`checkpoint folder ${folder} has no config.json (it holds ${names.sort().join(', ') || 'nothing'})`, 'download the checkpoint\'s config.json into the folder');
  }
  const configPath = join(dir, 'config.json');
  const rawConfig = readJson(configPath, 'checkpoint config');
  checkAlbert(rawConfig, configPath);
  const config = parseAlbertConfig(rawConfig, configPath);
  const tokenizerSource = TOKENIZER_SOURCES.find((f) => names.includes(f));
  if (!tokenizerSource) {
    throw new ModelError(
      `checkpoint folder ${folder} has no tokenizer: it needs tokenizer.json, spiece.model (SentencePiece, English ALBERT) or vocab.txt (WordPiece, Chinese ALBERT)`,
      'download the tokenizer files of the checkpoint into the folder',
    );
  }
  return { dir, rawConfig, config, tokenizerSource };
}
