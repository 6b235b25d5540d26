// The embedder: a loaded checkpoint plus the settings to tokenize, encode and pool with.
import { UsageError } from './errors.js';
import type { Device } from './model/devices.js';
import type { Dtype } from './model/dtypes.js';
import { loadModel, type LoadedModel } from './model/model.js';
import { ORT_VERSION } from './model/session.js';
import { checkPassLimits, DEFAULT_MAX_BATCH_TOKENS, resolveEmbedderSettings, resolvePoolSettings, type EmbedderOptions, type EmbedderSettings, type Naming, type PoolSettings } from './options.js';
import { BatchEncoder, type BatchDone, type Locate } from './pipeline/encoder.js';
import { tokenize, type Tokenized } from './pipeline/tokenize.js';

export interface EmbedResult {
  /** One row per text, in input order. */
  embeddings: Float32Array[];
  /** Tokens each text was embedded with, special tokens included. */
  tokenCounts: number[];
  /** Whether each text was cut to maxLength. */
  truncated: boolean[];
}

export interface ModelDescription {
  spec: string;
  source: 'local' | 'hub';
  dir: string;
  onnx: string;
  dtype: Dtype;
  device: Device;
  modelType: string;
  tokenizerKind: string;
  onnxruntime: string;
}

export interface Embedder {
  readonly dim: number;
  readonly maxLength: number;
  readonly settings: EmbedderSettings;
  readonly description: ModelDescription;
  readonly loaded: LoadedModel;
  /** Embeds texts; pooling and normalize may be overridden per call. */
  embed(texts: readonly string[], options?: Partial<PoolSettings>): Promise<EmbedResult>;
  /** `cut`: the text is the start of a longer record, so it counts as truncated. */
  tokenize(text: string, cut?: boolean): Tokenized;
  /**
   * Pooled rows of pre-tokenized texts as one [n, dim] row-major matrix; `locate` names an item
   * in messages (default `items[i]`); `onBatch` hears of each forward pass as it finishes.
   */
  encode(items: readonly Tokenized[], options?: Partial<PoolSettings>, onBatch?: (done: BatchDone) => void, locate?: Locate): Promise<Float32Array>;
  /** Token positions computed so far: padded (what the graph ran) and real. */
  tokenStats(): { padded: number; real: number };
  /** Releases the session; safe to call more than once. */
  close(): Promise<void>;
}

function chooseMaxLength(model: LoadedModel, requested: number | undefined, naming: Naming): number {
  const { tokenizer, config, fixedSeqLen } = model;
  const positionLimit = Math.min(config.maxPositions, fixedSeqLen ?? Infinity);
  const specials = tokenizer.prefix.length + tokenizer.suffix.length;
  const label = naming === 'cli' ? '--max-length' : 'maxLength';
  if (requested === undefined) return Math.min(positionLimit, tokenizer.modelMaxLength ?? Infinity);
  if (requested > positionLimit) {
    throw new UsageError(
      `${label} ${requested} exceeds the model's ${positionLimit} positions (max_position_embeddings in config.json)`,
      `use ${label} ${positionLimit} or less`,
    );
  }
  if (requested <= specials) {
    throw new UsageError(`${label} ${requested} leaves no room for text next to ${specials} special tokens`, `use ${label} ${specials + 1} or more`);
  }
  return requested;
}

function checkTexts(texts: unknown): readonly string[] {
  if (!Array.isArray(texts)) throw new UsageError(`embed() takes an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new UsageError(`texts[${i}] is ${t === null ? 'null' : Array.isArray(t) ? 'an array' : typeof t}, not a string`);
  });
  return texts;
}

/** Opens the model on resolved settings (see resolveEmbedderSettings); `naming` words its errors. */
export async function openEmbedder(settings: EmbedderSettings, notice: (message: string) => void = () => {}, naming: Naming = 'library'): Promise<Embedder> {
  const model = await loadModel(settings.model, notice);
  let maxLength: number;
  let encoder: BatchEncoder;
  try {
    maxLength = chooseMaxLength(model, settings.maxLength, naming);
    const { config } = model;
    checkPassLimits(settings.batch, { hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize ?? 4 * config.hiddenSize, numHeads: config.numHeads ?? 1, maxLength }, naming);
    encoder = new BatchEncoder(model, {
      batchSize: settings.batch.batchSize,
      maxBatchTokens: settings.batch.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS[model.session.device],
    });
    await encoder.probe();
  } catch (err) {
    await model.session.release();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const open = () => {
    if (closing) throw new UsageError('the embedder is closed', 'create a new one with createEmbedder()');
  };
  const embedder: Embedder = {
    dim: encoder.dim,
    maxLength,
    settings,
    loaded: model,
    description: {
      spec: model.spec,
      source: model.source,
      dir: model.files.dir,
      onnx: model.files.onnx,
      dtype: model.files.dtype,
      device: model.session.device,
      modelType: model.config.modelType,
      tokenizerKind: model.tokenizer.kind,
      onnxruntime: ORT_VERSION,
    },
    tokenize(text, cut = false) {
      open();
      return tokenize(model.tokenizer, text, maxLength, cut);
    },
    async encode(items, options, onBatch, locate = (i) => `items[${i}]`) {
      open();
      return encoder.encode(items, resolvePoolSettings(settings, options, naming), locate, onBatch);
    },
    async embed(texts, options) {
      open();
      const pool = resolvePoolSettings(settings, options, naming);
      const items = checkTexts(texts).map((t) => tokenize(model.tokenizer, t, maxLength));
      const matrix = await encoder.encode(items, pool, (i) => `texts[${i}]`);
      return {
        embeddings: items.map((_, i) => matrix.slice(i * encoder.dim, (i + 1) * encoder.dim)),
        tokenCounts: items.map((item) => item.ids.length),
        truncated: items.map((item) => item.truncated),
      };
    },
    tokenStats: () => ({ padded: encoder.paddedTokens, real: encoder.realTokens }),
    close() {
      closing ??= model.session.release();
      return closing;
    },
  };
  return embedder;
}

/** Library entry point: `const e = await createEmbedder({ model: './albert-base-v2' })`. */
export async function createEmbedder(options: EmbedderOptions = {}, notice?: (message: string) => void): Promise<Embedder> {
  return openEmbedder(resolveEmbedderSettings(options), notice);
}
