// The embedder: a loaded checkpoint plus the settings to tokenize, encode and pool with.
import { UsageError } from './errors.js';
import type { Dtype } from './model/dtypes.js';
import { loadModel, type LoadedModel } from './model/model.js';
import { ORT_VERSION } from './model/session.js';
import { DEFAULT_MAX_BATCH_TOKENS, resolveEmbedderSettings, type EmbedderOptions, type EmbedderSettings } from './options.js';
import { BatchEncoder, type BatchDone, type PoolSettings } from './pipeline/encoder.js';
import type { Pooling } from './pipeline/pooling.js';
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
  device: 'cpu' | 'cuda';
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
  tokenize(text: string): Tokenized;
  /**
   * Pooled rows of pre-tokenized texts as one [n, dim] row-major matrix; `onBatch` hears of each
   * forward pass as it finishes (for progress reporting).
   */
  encode(items: readonly Tokenized[], options?: Partial<PoolSettings>, onBatch?: (done: BatchDone) => void): Promise<Float32Array>;
  /** Token positions computed so far: padded (what the graph ran) and real. */
  tokenStats(): { padded: number; real: number };
  close(): Promise<void>;
}

function chooseMaxLength(model: LoadedModel, requested: number | undefined): number {
  const { tokenizer, config, fixedSeqLen } = model;
  const limits = [tokenizer.modelMaxLength, config.maxPositions, fixedSeqLen].filter((v): v is number => v !== undefined);
  const modelLimit = limits.length ? Math.min(...limits) : 512;
  const specials = tokenizer.prefix.length + tokenizer.suffix.length;
  if (requested === undefined) return modelLimit;
  const positionLimit = Math.min(...[config.maxPositions, fixedSeqLen].filter((v): v is number => v !== undefined), Infinity);
  if (requested > positionLimit) {
    throw new UsageError(
      `--max-length ${requested} exceeds the model's ${positionLimit} positions (max_position_embeddings in config.json)`,
      `use --max-length ${positionLimit} or less`,
    );
  }
  if (requested <= specials) {
    throw new UsageError(`--max-length ${requested} leaves no room for text next to ${specials} special tokens`, `use --max-length ${specials + 1} or more`);
  }
  return requested;
}

export async function openEmbedder(settings: EmbedderSettings, notice: (message: string) => void = () => {}): Promise<Embedder> {
  const model = await loadModel(settings.model, notice);
  let maxLength: number;
  let encoder: BatchEncoder;
  try {
    maxLength = chooseMaxLength(model, settings.maxLength);
    encoder = new BatchEncoder(model, {
      batchSize: settings.batch.batchSize,
      maxBatchTokens: settings.batch.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS[model.session.device],
    });
  } catch (err) {
    await model.session.release();
    throw err;
  }
  const poolSettings = (o?: Partial<PoolSettings>): PoolSettings => ({
    pooling: (o?.pooling ?? settings.pooling) as Pooling,
    normalize: o?.normalize ?? settings.normalize,
  });
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
    tokenize: (text) => tokenize(model.tokenizer, text, maxLength),
    encode: (items, options, onBatch) => encoder.encode(items, poolSettings(options), onBatch),
    async embed(texts, options) {
      const items = texts.map((t) => tokenize(model.tokenizer, t, maxLength));
      const matrix = await encoder.encode(items, poolSettings(options));
      return {
        embeddings: items.map((_, i) => matrix.slice(i * encoder.dim, (i + 1) * encoder.dim)),
        tokenCounts: items.map((item) => item.ids.length),
        truncated: items.map((item) => item.truncated),
      };
    },
    tokenStats: () => ({ padded: encoder.paddedTokens, real: encoder.realTokens }),
    close: () => model.session.release(),
  };
  return embedder;
}

/** Library entry point: `const e = await createEmbedder({ model: './albert-base-v2' })`. */
export async function createEmbedder(options: EmbedderOptions = {}, notice?: (message: string) => void): Promise<Embedder> {
  return openEmbedder(resolveEmbedderSettings(options), notice);
}
