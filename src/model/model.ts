// Resolves --model (local folder or hub id) and opens its config, tokenizer and graph.
import { existsSync } from 'node:fs';
import { ModelError, UsageError } from '../errors.js';
import { readModelConfig, type ModelConfig } from './config.js';
import type { Dtype } from './dtypes.js';
import { locateModelFiles, type ModelFiles } from './folder.js';
import { fetchFromHub, isHubId, type HubSettings } from './hub.js';
import type { DeviceChoice } from './devices.js';
import { openSession, type EncoderSession } from './session.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

export interface ModelSettings {
  /** Load to check the model only (see SessionSettings.checkOnly). */
  checkOnly?: boolean;
  /** A local folder or a hub id (owner/name). */
  model: string;
  dtype: Dtype;
  device: DeviceChoice;
  threads: number;
  hub: HubSettings;
}

export interface ResolvedModel {
  /** What --model said. */
  spec: string;
  source: 'local' | 'hub';
  files: ModelFiles;
}

/** The graph inputs albert-embed knows how to fill. */
export const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids', 'position_ids'] as const;
/** Element types the token inputs may declare: Optimum uses int64, other exporters int32 ids or a float32 mask. */
export const TOKEN_INPUT_TYPES = ['int64', 'int32', 'float32'] as const;
export const OUTPUT_NAME = 'last_hidden_state';

export interface LoadedModel extends ResolvedModel {
  config: ModelConfig;
  tokenizer: TextTokenizer;
  session: EncoderSession;
  /** Fixed sizes the graph declares for input_ids, when it is not dynamic. */
  fixedBatch?: number;
  fixedSeqLen?: number;
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || spec.includes('\\') || existsSync(spec);
}

/** Whether --model names a local folder (or file) rather than a hub id. */
export function isLocalSpec(spec: string): boolean {
  return looksLikePath(spec) || !isHubId(spec);
}

export async function resolveModel(settings: ModelSettings, notice: (message: string) => void): Promise<ResolvedModel> {
  const spec = settings.model;
  if (!spec) throw new UsageError('--model is empty', 'pass a model folder or a hub id such as Xenova/albert-base-v2');
  if (isLocalSpec(spec)) {
    return { spec, source: 'local', files: locateModelFiles(spec, settings.dtype) };
  }
  const folder = await fetchFromHub(spec, settings.dtype, settings.hub, notice, (path) => readModelConfig(path).externalData);
  return { spec, source: 'hub', files: locateModelFiles(folder, settings.dtype) };
}

function checkGraph(session: EncoderSession, path: string): void {
  const unknown = session.inputs.filter((i) => !(KNOWN_INPUTS as readonly string[]).includes(i.name));
  if (unknown.length > 0) {
    throw new ModelError(
      `graph ${path} declares inputs albert-embed cannot fill: ${unknown.map((i) => i.name).join(', ')} (known: ${KNOWN_INPUTS.join(', ')})`,
      'export the encoder alone (feature-extraction task) so that it takes token ids and an attention mask',
    );
  }
  const mistyped = session.inputs.find((i) => !(TOKEN_INPUT_TYPES as readonly string[]).includes(i.type));
  if (mistyped) {
    throw new ModelError(
      `graph ${path}: input ${mistyped.name} is ${mistyped.type}; albert-embed feeds token inputs as ${TOKEN_INPUT_TYPES.join(', ')}`,
      'export the model again with int64 inputs',
    );
  }
  if (!session.inputs.some((i) => i.name === 'input_ids')) {
    throw new ModelError(`graph ${path} has no input_ids input (inputs: ${session.inputs.map((i) => i.name).join(', ')})`);
  }
  const ids = session.inputs.find((i) => i.name === 'input_ids');
  if (typeof ids?.shape[1] === 'number' && !session.inputs.some((i) => i.name === 'attention_mask')) {
    throw new ModelError(
      `graph ${path} has a fixed sequence length of ${ids.shape[1]} and no attention_mask input, so shorter texts would attend to padding`,
      'export with dynamic axes for batch and sequence, or with an attention_mask input',
    );
  }
  if (!session.outputs.some((o) => o.name === OUTPUT_NAME)) {
    throw new ModelError(
      `graph ${path} has no ${OUTPUT_NAME} output (outputs: ${session.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')})`,
      'export with the feature-extraction task, or name the encoder output last_hidden_state',
    );
  }
}

/**
 * Parts of a checkpoint that must agree, checked before any output: a tokenizer that can produce
 * ids past the embedding table, or a graph whose rows are not config.json's width, would fail
 * mid-run or, worse, embed garbage.
 */
function checkAgreement(files: ModelFiles, config: ModelConfig, tokenizer: TextTokenizer, session: EncoderSession): void {
  if (tokenizer.maxId >= config.vocabSize) {
    throw new ModelError(
      `tokenizer ${files.tokenizer} can produce token id ${tokenizer.maxId}, but config.json's vocab_size is ${config.vocabSize}, so the embedding table has no row for it`,
      'config.json and tokenizer.json come from different checkpoints; fetch both from the same one',
    );
  }
  const width = session.outputs.find((o) => o.name === OUTPUT_NAME)?.shape[2];
  if (typeof width === 'number' && width !== config.hiddenSize) {
    throw new ModelError(
      `graph ${files.onnx} outputs ${OUTPUT_NAME} rows of ${width} values, but config.json's hidden_size is ${config.hiddenSize}`,
      'config.json and the ONNX graph come from different checkpoints; fetch both from the same one',
    );
  }
}

function fixedDim(shape: ReadonlyArray<number | string> | undefined, axis: number): number | undefined {
  const d = shape?.[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

export async function loadModel(settings: ModelSettings, notice: (message: string) => void): Promise<LoadedModel> {
  const resolved = await resolveModel(settings, notice);
  const { files } = resolved;
  const config = readModelConfig(files.config);
  const tokenizer = loadTokenizer(files.tokenizer, files.tokenizerConfig);
  const session = await openSession(files.onnx, { device: settings.device, threads: settings.threads, checkOnly: settings.checkOnly }, notice);
  try {
    checkGraph(session, files.onnx);
    checkAgreement(files, config, tokenizer, session);
  } catch (err) {
    await session.release();
    throw err;
  }
  const idsShape = session.inputs.find((i) => i.name === 'input_ids')?.shape;
  return {
    ...resolved,
    config,
    tokenizer,
    session,
    fixedBatch: fixedDim(idsShape, 0),
    fixedSeqLen: fixedDim(idsShape, 1),
  };
}
