// The embedder: a loaded checkpoint plus the settings to tokenize, encode and pool with.
import { UsageError } from './errors.js';
import type { Device } from './model/devices.js';
import type { Dtype } from './model/dtypes.js';
import { runnableModel } from './convert/auto.js';
import { isLocalSpec, loadModel, type LoadedModel } from './model/model.js';
import { ORT_VERSION } from './model/session.js';
import { checkPassLimits, defaultMaxBatchTokens, labelOf, resolveEmbedderSettings, resolvePoolSettings, type EmbedderOptions, type EmbedderSettings, type Naming, type PoolSettings } from './options.js';
import { encodeRows } from './output/precision.js';
import { BatchEncoder, type BatchDone, type Locate } from './pipeline/encoder.js';
import { RecordEncoder, type Prepared } from './pipeline/record-encoder.js';
import { tokenize, type Tokenized } from './pipeline/tokenize.js';

export interface EmbedResult {
  /**
   * One float32 row per text, in input order; with pooling 'none', each text's token vectors
   * instead ([tokens, dim] row-major).
   */
  embeddings: Float32Array[];
  /** The same in the precision asked for, when that is not float32: float16 bits, or packed sign bits. */
  quantized?: Array<Uint16Array | Uint8Array>;
  /** With pooling 'none': each text's token ids, special tokens included. */
  tokenIds?: Int32Array[];
  /** Tokens each text was embedded with, special tokens included, over all its windows. */
  tokenCounts: number[];
  /** Whether each text was cut to maxLength. */
  truncated: boolean[];
  /** Windows each text was embedded in (more than 1 only with overflow 'chunk'). */
  chunks: number[];
}

export interface ModelDescription {
  /** --model as given. */
  spec: string;
  source: 'local' | 'hub';
  /** The folder loaded: --model's, its hub cache folder, or the converted folder. */
  dir: string;
  /** The checkpoint folder the model was converted from, when --model named a checkpoint. */
  convertedFrom?: string;
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
  /** The padded-token budget of a forward pass: the setting, or the default for the device and dtype. */
  readonly maxBatchTokens: number;
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
  /** A text's windows under the overflow setting; `place` names it in errors. */
  prepare(text: string, cut?: boolean, place?: string): Prepared;
  /** Rows of prepared texts ([n, dim], windows combined, normalized as set). */
  embedRows(records: readonly Prepared[], onBatch?: (done: BatchDone) => void, locate?: Locate): Promise<Float32Array>;
  /** Token vectors of prepared texts (pooling 'none'). */
  embedTokens(records: readonly Prepared[], onBatch?: (done: BatchDone) => void, locate?: Locate): Promise<Float32Array[]>;
  /** Token positions computed so far: padded (what the graph ran) and real. */
  tokenStats(): { padded: number; real: number };
  /** Releases the session; safe to call more than once. */
  close(): Promise<void>;
}

function chooseMaxLength(model: LoadedModel, requested: number | undefined, naming: Naming): number {
  const { tokenizer, config, fixedSeqLen } = model;
  const positionLimit = Math.min(config.maxPositions, fixedSeqLen ?? Infinity);
  const specials = tokenizer.prefix.length + tokenizer.suffix.length;
  const label = labelOf('maxLength', naming);
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

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** A copy of `texts`, checked: read once per element (a getter could change its answer), holes included. */
function checkTexts(texts: unknown): string[] {
  if (!Array.isArray(texts)) throw new UsageError(`embed() takes an array of strings, got ${typeName(texts)}`);
  const copy: string[] = new Array(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const t: unknown = texts[i];
    if (typeof t !== 'string') throw new UsageError(`texts[${i}] is ${t === undefined && !(i in texts) ? 'missing (a hole in the array)' : typeName(t)}, not a string`);
    copy[i] = t;
  }
  return copy;
}

function checkItems(items: unknown): readonly Tokenized[] {
  if (!Array.isArray(items)) throw new UsageError(`encode() takes an array of tokenize() results, got ${typeName(items)}`);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Partial<Tokenized> | undefined;
    if (!(item?.ids instanceof Int32Array) || typeof item.truncated !== 'boolean') throw new UsageError(`items[${i}] is not a tokenize() result`);
  }
  return items;
}

/**
 * The load probe runs the longest sequence a run may send, which proves the position table; on
 * models where that is heavy (albert-xxlarge: 2.5 TFLOP, half a minute on 2 cores) it runs a
 * short sequence instead, which still proves the graph's width and the largest token id.
 * Estimated FLOPs: the projections and feed-forward per token, and attention per token pair.
 */
const PROBE_BUDGET_FLOPS = 200e9;

function probeLength(model: LoadedModel, maxLength: number): number {
  const { hiddenSize: H, intermediateSize, numLayers } = model.config;
  const I = intermediateSize ?? 4 * H;
  const layers = numLayers ?? 12;
  const flops = maxLength * 2 * layers * (4 * H * H + 2 * H * I) + layers * 4 * maxLength * maxLength * H;
  const { prefix, suffix } = model.tokenizer;
  return flops <= PROBE_BUDGET_FLOPS ? maxLength : Math.min(maxLength, prefix.length + suffix.length + 8);
}

/** Opens the model on resolved settings (see resolveEmbedderSettings); `naming` words its errors. */
export async function openEmbedder(settings: EmbedderSettings, notice: (message: string) => void = () => {}, naming: Naming = 'library'): Promise<Embedder> {
  const runnable = await runnableModel(settings.model, notice);
  const model = await loadModel(runnable.settings, notice);
  let maxLength: number;
  let encoder: BatchEncoder;
  let records: RecordEncoder;
  let dim: number;
  const maxBatchTokens = settings.batch.maxBatchTokens ?? defaultMaxBatchTokens(model.session.device, model.files.dtype);
  try {
    maxLength = chooseMaxLength(model, settings.maxLength, naming);
    const { config } = model;
    checkPassLimits(settings.batch, { hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize ?? 4 * config.hiddenSize, numHeads: config.numHeads ?? 1, maxLength }, naming);
    encoder = new BatchEncoder(model, {
      batchSize: settings.batch.batchSize,
      maxBatchTokens,
    });
    records = new RecordEncoder(model, encoder, { maxLength, overflow: settings.overflow, chunkOverlap: settings.chunkOverlap, layers: settings.layers }, naming);
    dim = records.width(settings.pooling);
    await encoder.probe(probeLength(model, maxLength));
  } catch (err) {
    await model.session.release();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const open = () => {
    if (closing) throw new UsageError('the embedder is closed', 'create a new one with createEmbedder()');
  };
  // Calls still running when close() comes finish first: the session is released after them.
  const running = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    const done = () => running.delete(work);
    work.then(done, done);
    return work;
  };
  const embedder: Embedder = {
    dim,
    maxLength,
    maxBatchTokens,
    settings,
    loaded: model,
    description: {
      spec: settings.model.model,
      source: isLocalSpec(settings.model.model) ? 'local' : 'hub',
      dir: model.files.dir,
      convertedFrom: runnable.convertedFrom,
      onnx: model.files.onnx,
      dtype: model.files.dtype,
      device: model.session.device,
      modelType: model.config.modelType,
      tokenizerKind: model.tokenizer.kind,
      onnxruntime: ORT_VERSION,
    },
    tokenize(text, cut = false) {
      open();
      if (typeof text !== 'string') throw new UsageError(`tokenize() takes a string, got ${typeName(text)}`);
      return tokenize(model.tokenizer, text, maxLength, cut);
    },
    async encode(items, options, onBatch, locate = (i) => `items[${i}]`) {
      open();
      const pool = resolvePoolSettings(settings, options, naming);
      if (pool.pooling === 'none') throw new UsageError('encode() makes one row per item; use embed() or embedTokens() for pooling none');
      return track(records.rows(checkItems(items).map((t) => ({ windows: [t], tokens: t.ids.length, truncated: t.truncated })), pool.pooling, pool.normalize, locate, onBatch));
    },
    prepare(text, cut = false, place = 'text') {
      open();
      if (typeof text !== 'string') throw new UsageError(`prepare() takes a string, got ${typeName(text)}`);
      return records.prepare(text, cut, place);
    },
    async embedRows(prepared, onBatch, locate = (i) => `records[${i}]`) {
      open();
      return track(records.rows(prepared, settings.pooling, settings.normalize, locate, onBatch));
    },
    async embedTokens(prepared, onBatch, locate = (i) => `records[${i}]`) {
      open();
      return track(records.tokens(prepared, settings.normalize, locate, onBatch));
    },
    async embed(texts, options) {
      open();
      const pool = resolvePoolSettings(settings, options, naming);
      const prepared = checkTexts(texts).map((t, i) => records.prepare(t, false, `texts[${i}]`));
      const width = records.width(pool.pooling);
      let embeddings: Float32Array[];
      if (pool.pooling === 'none') {
        embeddings = await track(records.tokens(prepared, pool.normalize, (i) => `texts[${i}]`));
      } else {
        const matrix = await track(records.rows(prepared, pool.pooling, pool.normalize, (i) => `texts[${i}]`));
        embeddings = prepared.map((_, i) => matrix.slice(i * width, (i + 1) * width));
      }
      const quantized = settings.precision === 'float32' ? undefined : embeddings.map((e) => encodeRows(e, width, settings.precision) as Uint16Array | Uint8Array);
      return {
        embeddings,
        ...(quantized ? { quantized } : {}),
        ...(pool.pooling === 'none' ? { tokenIds: prepared.map((p) => p.windows[0].ids) } : {}),
        tokenCounts: prepared.map((p) => p.tokens),
        truncated: prepared.map((p) => p.truncated),
        chunks: prepared.map((p) => p.windows.length),
      };
    },
    tokenStats: () => ({ padded: encoder.paddedTokens, real: encoder.realTokens }),
    close() {
      closing ??= Promise.allSettled([...running]).then(() => model.session.release());
      return closing;
    },
  };
  return embedder;
}

/** Library entry point: `const e = await createEmbedder({ model: './albert-base-v2' })`. */
export async function createEmbedder(options: EmbedderOptions = {}, notice?: (message: string) => void): Promise<Embedder> {
  return openEmbedder(resolveEmbedderSettings(options), notice);
}
