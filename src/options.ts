// Every option albert-embed takes, in one table: its library name, its flag, help text, choices,
// default and the one validator that both the CLI flags and the library calls run. The CLI builds
// its commander flags from this table; createEmbedder, embed and extract resolve their options
// through it; core code only ever sees the resolved, validated settings.
import { availableParallelism, homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { formatOf, INPUT_FORMATS, TABLE_FORMATS, type InputFormat } from './input/formats.js';
import { DTYPES, type Dtype } from './model/dtypes.js';
import type { HubSettings } from './model/hub.js';
import type { ModelSettings } from './model/model.js';
import { DEVICES, type DeviceChoice } from './model/devices.js';
import { formatFromPath, type OutputFormat } from './output/formats.js';
import { resolveShard, type Shard } from './jobs/shard.js';
import { POOLINGS, type Pooling } from './pipeline/pooling.js';

export const DEFAULT_MODEL = 'Xenova/albert-base-v2';
export const DEFAULT_BATCH_SIZE = 32;
/**
 * Padded tokens per forward pass when --max-batch-tokens is not given. On CPU, measured by
 * `npm run bench -- engine` (BENCHMARKS.md): budgets of 512-1024 keep a batch's feed-forward
 * activations (tokens x 3072 floats, 12 MiB at 1024) in cache; 8192 ran 27-49% slower. The
 * CUDA figure follows text-embeddings-inference's default and is not measured here.
 */
export const DEFAULT_MAX_BATCH_TOKENS: Readonly<Record<'cpu' | 'cuda', number>> = { cpu: 1024, cuda: 16384 };
/**
 * The same for the int8 graph (--dtype q8) on CPU: on the bench corpus 512 ran as fast as 1024
 * end to end (33.5-34.4 s vs 34.6 s) with a fifth less peak memory (240 vs 300 MB), and its
 * activations are a quarter of fp32's, so smaller passes lose nothing to overhead (BENCHMARKS.md).
 */
const DEFAULT_MAX_BATCH_TOKENS_Q8_CPU = 512;

/** The --max-batch-tokens a session on `device` running `dtype` gets by default. */
export function defaultMaxBatchTokens(device: 'cpu' | 'cuda', dtype: string): number {
  return device === 'cpu' && dtype === 'q8' ? DEFAULT_MAX_BATCH_TOKENS_Q8_CPU : DEFAULT_MAX_BATCH_TOKENS[device];
}
/** Records tokenized and length-sorted together by extract: bounds memory, feeds the sort. */
const DEFAULT_WINDOW = 2048;

/** Whose words an error uses: the CLI's flags (--max-length) or the library's names (maxLength). */
export type Naming = 'cli' | 'library';

export interface OptionDef<T> {
  /** The library's name for it (EmbedderOptions / ExtractOptions key). */
  readonly name: string;
  /** commander's flag spelling, e.g. '-m, --model <dir|hub-id>'. */
  readonly flags: string;
  /** How CLI messages name it, when not by its long flag (-o is how everyone writes --output). */
  readonly label?: string;
  readonly help: string;
  readonly choices?: readonly string[];
  /** The default when it is a constant; undefined when the model, machine or environment decide it. */
  readonly default?: T;
  /** CLI text -> the value `check` expects (numbers from digits). */
  readonly fromText?: (text: string) => unknown;
  /** Validates a value from either side; throws UsageError naming `label`. */
  readonly check: (value: unknown, label: string) => T;
}

/** A value as the caller wrote it: strings quoted, bigints with their n, containers by kind. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value !== null && typeof value === 'object') return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  return String(value);
}

/** Digits become a number only when the number is exact; anything else stays text for the message. */
function integerFromText(text: string): unknown {
  if (!/^\s*\d+\s*$/.test(text)) return text;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text.trim();
}

interface Bound {
  max: () => number;
  /** What the bound is, for the message: "the 2 logical CPUs this process may use". */
  why: (max: number) => string;
}

function positiveInteger(bound?: Bound) {
  return (value: unknown, label: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new UsageError(`${label} must be a positive integer, got ${show(value)}`);
    if (bound && value > bound.max()) {
      const max = bound.max();
      throw new UsageError(`${label} ${value} exceeds ${bound.why(max)}`, `use ${label} ${max} or less`);
    }
    return value;
  };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (value: unknown, label: string): T => {
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      throw new UsageError(`${label} must be one of ${values.join(', ')}, got ${show(value)}`);
    }
    return value as T;
  };
}

function text(value: unknown, label: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${label} must be a non-empty string, got ${show(value)}`);
  return value;
}

function flag(value: unknown, label: string): boolean {
  if (typeof value !== 'boolean') throw new UsageError(`${label} must be true or false, got ${show(value)}`);
  return value;
}

function nonNegativeInteger(value: unknown, label: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new UsageError(`${label} must be a non-negative integer, got ${show(value)}`);
  return value;
}

/** "-1,-2" -> [-1, -2]; anything else stays text for the message. */
function layersFromText(text: string): unknown {
  const parts = text.split(',').map((p) => p.trim());
  return parts.every((p) => /^-?\d+$/.test(p)) ? parts.map(Number) : text;
}

function layerList(value: unknown, label: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isSafeInteger(v))) {
    throw new UsageError(`${label} must be a non-empty list of layer indexes (integers; negative counts from the last layer), got ${show(value)}`, 'for example --layer -1 or --layer -1,-2,-3,-4');
  }
  return [...value];
}

const OVERFLOWS = ['truncate', 'chunk', 'error'] as const;
export type Overflow = (typeof OVERFLOWS)[number];
const PRECISIONS = ['float32', 'float16', 'ubinary'] as const;
export type Precision = (typeof PRECISIONS)[number];

const logicalCpus: Bound = { max: () => availableParallelism(), why: (n) => `the ${n} logical CPUs this process may use` };

/** The option table. Keys are the library names. */
export const OPTIONS = {
  model: { name: 'model', flags: '-m, --model <dir|hub-id>', help: `model folder or hub id (env ALBERT_EMBED_MODEL; default ${DEFAULT_MODEL})`, check: text },
  dtype: { name: 'dtype', flags: '--dtype <dtype>', help: 'which ONNX weight file to load', choices: DTYPES, default: 'fp32', check: oneOf(DTYPES) },
  cacheDir: { name: 'cacheDir', flags: '--cache-dir <dir>', help: 'where hub downloads are cached (env ALBERT_EMBED_CACHE; default ~/.cache/albert-embed)', check: text },
  revision: { name: 'revision', flags: '--revision <rev>', help: 'hub branch, tag or commit', default: 'main', check: text },
  offline: { name: 'offline', flags: '--offline', help: 'never use the network; hub ids must already be cached (also HF_HUB_OFFLINE=1)', check: flag },
  device: { name: 'device', flags: '--device <device>', help: 'cpu, cuda, or auto (CUDA when it loads, else CPU)', choices: DEVICES, default: 'cpu', check: oneOf(DEVICES) },
  threads: {
    name: 'threads',
    flags: '--threads <n>',
    help: 'onnxruntime intra-op threads (default and most: os.availableParallelism())',
    fromText: integerFromText,
    check: positiveInteger(logicalCpus),
  },
  maxLength: {
    name: 'maxLength',
    flags: '--max-length <n>',
    help: 'tokens per text incl. [CLS]/[SEP] (default: the model limit); longer texts are truncated',
    fromText: integerFromText,
    check: positiveInteger(),
  },
  pooling: {
    name: 'pooling',
    flags: '--pooling <mode>',
    help: 'mean or max over real tokens, cls (the [CLS] vector), pooler (the checkpoint\'s pooler output), none (every token\'s vector)',
    choices: POOLINGS,
    default: 'mean',
    check: oneOf(POOLINGS),
  },
  layers: {
    name: 'layers',
    flags: '--layer <n[,m...]>',
    help: 'hidden-state layers to pool and concatenate: 0 is the embedding projection, -1 (default) the last layer',
    default: [-1],
    fromText: layersFromText,
    check: layerList,
  },
  overflow: {
    name: 'overflow',
    flags: '--overflow <mode>',
    help: 'texts longer than --max-length: truncate, chunk (embed windows, combine them), or error',
    choices: OVERFLOWS,
    default: 'truncate',
    check: oneOf(OVERFLOWS),
  },
  chunkOverlap: {
    name: 'chunkOverlap',
    flags: '--chunk-overlap <k>',
    help: 'tokens shared by neighbouring windows with --overflow chunk',
    default: 0,
    fromText: integerFromText,
    check: nonNegativeInteger,
  },
  precision: {
    name: 'precision',
    flags: '--precision <p>',
    help: 'numbers on disk: float32, float16 (IEEE half) or ubinary (packbits of row > 0)',
    choices: PRECISIONS,
    default: 'float32',
    check: oneOf(PRECISIONS),
  },
  normalize: { name: 'normalize', flags: '--normalize', help: 'L2-normalize every row', default: false, check: flag },
  batchSize: { name: 'batchSize', flags: '--batch-size <n>', help: 'most texts per forward pass', default: DEFAULT_BATCH_SIZE, fromText: integerFromText, check: positiveInteger() },
  maxBatchTokens: {
    name: 'maxBatchTokens',
    flags: '--max-batch-tokens <n>',
    help: `most padded tokens per forward pass (default: ${DEFAULT_MAX_BATCH_TOKENS.cpu} on CPU, ${DEFAULT_MAX_BATCH_TOKENS_Q8_CPU} with --dtype q8 on CPU, ${DEFAULT_MAX_BATCH_TOKENS.cuda} on CUDA)`,
    fromText: integerFromText,
    check: positiveInteger(),
  },
  inputFormat: {
    name: 'inputFormat',
    flags: '--input-format <format>',
    help: 'auto: by extension (.jsonl/.ndjson, .csv, .tsv, .parquet), everything else and stdin text lines',
    choices: INPUT_FORMATS,
    default: 'auto',
    check: oneOf(INPUT_FORMATS),
  },
  textField: { name: 'textField', flags: '--text-field <name>', help: 'JSON Lines field holding the text', default: 'text', check: text },
  idField: { name: 'idField', flags: '--id-field <name>', help: 'JSON Lines field holding the record id (default: the record number from 0)', check: text },
  textColumn: { name: 'textColumn', flags: '--text-column <name|index>', help: 'CSV, TSV or Parquet column holding the text: header name or 0-based index', default: 'text', check: text },
  idColumn: { name: 'idColumn', flags: '--id-column <name|index>', help: 'CSV, TSV or Parquet column holding the record id (default: the record number from 0)', check: text },
  modelFolder: {
    name: 'output',
    flags: '-o, --output <folder>',
    label: '-o',
    help: 'the model folder to write (it must not exist or be empty, unless --force)',
    check: text,
  },
  force: { name: 'force', flags: '--force', help: 'replace what is already there (convert: the output folder; quantize: its int8 graph)', default: false, check: flag },
  mergedFile: { name: 'output', flags: '-o, --output <path>', label: '-o', help: 'the merged file, X.npz', check: text },
  shard: { name: 'shard', flags: '--shard <i/n|auto>', help: 'embed only shard I of N (records r with r mod N = I), or take I and N from a Slurm array or Kubernetes Indexed Job', check: text },
  shardCount: {
    name: 'shardCount',
    flags: '--shard-count <n>',
    help: 'N for --shard auto in a Kubernetes Indexed Job (also ALBERT_EMBED_SHARD_COUNT)',
    fromText: integerFromText,
    check: positiveInteger(),
  },
  windowSize: {
    name: 'windowSize',
    flags: '--window <n>',
    help: 'records read, length-sorted, embedded and written together; each is one durable commit of the journal',
    default: DEFAULT_WINDOW,
    fromText: integerFromText,
    check: positiveInteger({ max: () => 1 << 20, why: () => 'a window of 1,048,576 records (memory grows with the window)' }),
  },
  resume: { name: 'resume', flags: '--resume', help: 'continue an interrupted run of the same command from its last committed window', default: false, check: flag },
  journal: {
    name: 'journal',
    flags: '--no-journal',
    help: 'do not commit progress durably after each window (no --resume afterwards; slightly faster)',
    default: true,
    check: flag,
  },
  quantize: {
    name: 'quantize',
    flags: '--quantize',
    help: 'also write onnx/model_quantized.onnx (int8 weights, --dtype q8) and its drift from fp32 (quantization.json)',
    default: false,
    check: flag,
  },
  output: { name: 'output', flags: '-o, --output <path>', label: '-o', help: 'output: X.npy, X.npz, X.jsonl, or - for JSON Lines on stdout', check: text },
} as const satisfies Record<string, OptionDef<unknown>>;

export type OptionName = keyof typeof OPTIONS;

/** The long flag of an option: '--max-length'. */
function flagOf(name: OptionName): string {
  return OPTIONS[name].flags.match(/--[\w-]+/)![0];
}

/** How an error names option `name`: its flag for the CLI (`--max-length`, `-o`), its key for the library. */
export function labelOf(name: OptionName, naming: Naming): string {
  const def: OptionDef<unknown> = OPTIONS[name];
  if (naming === 'library') return def.name;
  return def.label ?? flagOf(name);
}

/** Validates `value` (or returns the table's default when it is undefined). */
function resolve<K extends OptionName>(name: K, value: unknown, naming: Naming): ReturnType<(typeof OPTIONS)[K]['check']> {
  const def = OPTIONS[name] as OptionDef<unknown>;
  if (value === undefined) return def.default as ReturnType<(typeof OPTIONS)[K]['check']>;
  return def.check(value, labelOf(name, naming)) as ReturnType<(typeof OPTIONS)[K]['check']>;
}

/** What a library caller may pass to createEmbedder; everything is optional. */
export interface EmbedderOptions {
  /** Local folder or hub id; default $ALBERT_EMBED_MODEL, else Xenova/albert-base-v2. */
  model?: string;
  dtype?: Dtype;
  device?: DeviceChoice;
  /** onnxruntime intra-op threads; default (and most) os.availableParallelism(). */
  threads?: number;
  cacheDir?: string;
  revision?: string;
  /** Never touch the network; default true when HF_HUB_OFFLINE=1. */
  offline?: boolean;
  /** Tokens per text including special tokens; default the model's limit. */
  maxLength?: number;
  pooling?: Pooling;
  normalize?: boolean;
  /** Hidden-state layers pooled and concatenated: 0 the embedding projection, -1 the last. */
  layers?: number[];
  overflow?: Overflow;
  chunkOverlap?: number;
  /** What embed() returns and extract writes: float32 rows, float16 bits, or packed bits. */
  precision?: Precision;
  batchSize?: number;
  maxBatchTokens?: number;
}

export interface PoolSettings {
  pooling: Pooling;
  normalize: boolean;
}

export interface EmbedderSettings extends PoolSettings {
  model: ModelSettings;
  layers: number[];
  overflow: Overflow;
  chunkOverlap: number;
  precision: Precision;
  /** undefined: the smaller of the tokenizer's model_max_length and max_position_embeddings. */
  maxLength?: number;
  /** maxBatchTokens undefined: defaultMaxBatchTokens for the device the session opens on and the dtype. */
  batch: { batchSize: number; maxBatchTokens?: number };
}

export type Env = Readonly<Record<string, string | undefined>>;

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

export function defaultCacheDir(env: Env): string {
  if (env.ALBERT_EMBED_CACHE) return env.ALBERT_EMBED_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'albert-embed');
}

function plainObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${what} must be an object, got ${Array.isArray(value) ? 'an array' : show(value)}`);
  return value as Record<string, unknown>;
}

function rejectUnknown(options: Record<string, unknown>, known: readonly string[], what: string): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k) && options[k] !== undefined);
  if (unknown.length > 0) throw new UsageError(`${what}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

const EMBEDDER_KEYS = [
  'model',
  'dtype',
  'device',
  'threads',
  'cacheDir',
  'revision',
  'offline',
  'maxLength',
  'pooling',
  'normalize',
  'layers',
  'overflow',
  'chunkOverlap',
  'precision',
  'batchSize',
  'maxBatchTokens',
] as const satisfies readonly OptionName[];

/** Validates library or CLI options into the settings the embedder runs on. */
export function resolveEmbedderSettings(options: EmbedderOptions = {}, env: Env = process.env, naming: Naming = 'library'): EmbedderSettings {
  const o = plainObject(options, 'embedder options');
  if (naming === 'library') rejectUnknown(o, EMBEDDER_KEYS, 'createEmbedder');
  const settings: EmbedderSettings = {
    model: {
      model: o.model === undefined ? env.ALBERT_EMBED_MODEL || DEFAULT_MODEL : resolve('model', o.model, naming),
      dtype: resolve('dtype', o.dtype, naming),
      device: resolve('device', o.device, naming),
      threads: resolveThreads(o.threads, naming),
      hub: resolveHub(o, env, naming),
    },
    maxLength: o.maxLength === undefined ? undefined : resolve('maxLength', o.maxLength, naming),
    pooling: resolve('pooling', o.pooling, naming),
    normalize: resolve('normalize', o.normalize, naming),
    layers: resolve('layers', o.layers, naming),
    overflow: resolve('overflow', o.overflow, naming),
    chunkOverlap: resolve('chunkOverlap', o.chunkOverlap, naming),
    precision: resolve('precision', o.precision, naming),
    batch: {
      batchSize: resolve('batchSize', o.batchSize, naming),
      maxBatchTokens: o.maxBatchTokens === undefined ? undefined : resolve('maxBatchTokens', o.maxBatchTokens, naming),
    },
  };
  checkCombinations(settings, naming);
  return settings;
}

/** --threads, or every core the machine has. */
function resolveThreads(value: unknown, naming: Naming): number {
  return value === undefined ? availableParallelism() : resolve('threads', value, naming);
}

/** Where hub files come from and are cached: the options, else the environment. */
function resolveHub(o: Record<string, unknown>, env: Env, naming: Naming): HubSettings {
  return {
    cacheDir: o.cacheDir === undefined ? defaultCacheDir(env) : resolve('cacheDir', o.cacheDir, naming),
    offline: o.offline === undefined ? truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE) : resolve('offline', o.offline, naming),
    revision: resolve('revision', o.revision, naming),
    endpoint: env.HF_ENDPOINT || 'https://huggingface.co',
  };
}

/** Options that exclude each other, whatever the model. */
function checkCombinations(settings: EmbedderSettings, naming: Naming): void {
  const label = (name: OptionName) => labelOf(name, naming);
  if (settings.pooling === 'none' && settings.overflow === 'chunk') {
    throw new UsageError(`${label('pooling')} none keeps every token's vector, which ${label('overflow')} chunk has no way to combine`, `use ${label('overflow')} truncate or error with ${label('pooling')} none`);
  }
  if (settings.pooling === 'pooler' && (settings.layers.length !== 1 || settings.layers[0] !== -1)) {
    throw new UsageError(`${label('pooling')} pooler reads the pooler output of the last layer; ${label('layers')} does not apply to it`, `leave ${label('layers')} out with ${label('pooling')} pooler`);
  }
}

/** Per-call overrides of embed(): pooling and normalize, validated like the options. */
export function resolvePoolSettings(base: PoolSettings, overrides: unknown, naming: Naming = 'library'): PoolSettings {
  if (overrides === undefined) return base;
  const o = plainObject(overrides, 'embed options');
  rejectUnknown(o, ['pooling', 'normalize'], 'embed');
  return {
    pooling: o.pooling === undefined ? base.pooling : resolve('pooling', o.pooling, naming),
    normalize: o.normalize === undefined ? base.normalize : resolve('normalize', o.normalize, naming),
  };
}

/** The model facts the per-pass limits derive from. */
export interface PassShape {
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  /** The longest sequence a pass may hold (the chosen max length). */
  maxLength: number;
}

/** Memory this process may use: the cgroup limit when there is one, else physical memory. */
function usableMemory(): number {
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return limit && limit > 0 && limit < totalmem() ? limit : totalmem();
}

/**
 * The most tokens one forward pass may hold on this machine: activations are estimated at
 * 4 bytes x (6 hidden + 2 intermediate + 2 x heads x sequence) per token (the tensors of one
 * layer that onnxruntime keeps alive at once: Q/K/V and their transposes, the residual stream,
 * both feed-forward tensors, attention scores and their softmax), against half of the memory.
 */
export function maxPassTokens(shape: PassShape, memory = usableMemory()): number {
  const bytesPerToken = 4 * (6 * shape.hiddenSize + 2 * shape.intermediateSize + 2 * shape.numHeads * shape.maxLength);
  return Math.max(shape.maxLength, Math.floor(memory / 2 / bytesPerToken));
}

/** Refuses per-pass sizes the machine cannot hold for this model (checked once the model is known). */
export function checkPassLimits(batch: EmbedderSettings['batch'], shape: PassShape, naming: Naming, memory = usableMemory()): void {
  const limit = maxPassTokens(shape, memory);
  const gib = (memory / 2 ** 30).toFixed(1);
  const why = `${limit.toLocaleString('en-US')}, the tokens one forward pass of this model (hidden ${shape.hiddenSize}, ${shape.numHeads} heads, max length ${shape.maxLength}) can hold in half of this machine's ${gib} GiB`;
  for (const name of ['maxBatchTokens', 'batchSize'] as const) {
    const value = batch[name];
    if (value !== undefined && value > limit) {
      const label = labelOf(name, naming);
      throw new UsageError(`${label} ${value} exceeds ${why}`, `use ${label} ${limit} or less`);
    }
  }
}

/** What a library caller passes to convert(). */
export interface ConvertOptions {
  /** A checkpoint folder or hub id. */
  checkpoint: string;
  /** The model folder to write. */
  output: string;
  force?: boolean;
  cacheDir?: string;
  revision?: string;
  offline?: boolean;
  /** Threads for the load check of the written model. */
  threads?: number;
  /** Also write the int8 graph onnx/model_quantized.onnx and quantization.json. */
  quantize?: boolean;
}

export interface ConvertSettings {
  checkpoint: string;
  output: string;
  force: boolean;
  quantize: boolean;
  hub: HubSettings;
  threads: number;
}

const CONVERT_KEYS = ['checkpoint', 'output', 'force', 'quantize', 'cacheDir', 'revision', 'offline', 'threads'] as const;

export function resolveConvertSettings(options: ConvertOptions, env: Env = process.env, naming: Naming = 'library'): ConvertSettings {
  const o = plainObject(options, 'convert options');
  if (naming === 'library') rejectUnknown(o, CONVERT_KEYS, 'convert');
  const checkpoint = text(o.checkpoint, 'checkpoint');
  if (o.output === undefined) throw new UsageError(`${labelOf('modelFolder', naming)} is required`, 'name the model folder to write, for example -o ./albert-onnx');
  const output = resolve('modelFolder', o.output, naming);
  return { checkpoint, output, force: resolve('force', o.force, naming), quantize: resolve('quantize', o.quantize, naming), hub: resolveHub(o, env, naming), threads: resolveThreads(o.threads, naming) };
}

/** What a library caller passes to quantize(). */
export interface QuantizeOptions {
  /** A model folder with an fp32 graph (onnx/model.onnx), config.json and tokenizer.json. */
  folder: string;
  /** Replace an existing onnx/model_quantized.onnx. */
  force?: boolean;
  /** Threads for quantizing's load check and drift measurement. */
  threads?: number;
}

export interface QuantizeSettings {
  folder: string;
  force: boolean;
  threads: number;
}

const QUANTIZE_KEYS = ['folder', 'force', 'threads'] as const;

export function resolveQuantizeSettings(options: QuantizeOptions, naming: Naming = 'library'): QuantizeSettings {
  const o = plainObject(options, 'quantize options');
  if (naming === 'library') rejectUnknown(o, QUANTIZE_KEYS, 'quantize');
  return {
    folder: text(o.folder, 'folder'),
    force: resolve('force', o.force, naming),
    threads: resolveThreads(o.threads, naming),
  };
}

/** What a library caller passes to extract(): the embedder's options plus the job's. */
export interface ExtractOptions extends EmbedderOptions {
  /** File paths; '-' (the default, alone) is stdin. */
  inputs?: readonly string[];
  inputFormat?: InputFormat;
  textField?: string;
  idField?: string;
  textColumn?: string;
  idColumn?: string;
  /** X.npy, X.npz, X.jsonl / X.ndjson, or '-' for JSON Lines on stdout. */
  output: string;
  /** 'I/N' or 'auto': embed only records r with r mod N = I (.npz output; merge joins the shards). */
  shard?: string;
  /** N for shard 'auto' under Kubernetes, which does not export it. */
  shardCount?: number;
  /** Records read, length-sorted, embedded and written together (default 2048). */
  windowSize?: number;
  /** Continue an interrupted run of the same command (its journal beside the output). */
  resume?: boolean;
  /** Commit progress durably after every window so that a later run can resume (default true). */
  journal?: boolean;
}

export interface ExtractSettings {
  embedder: EmbedderSettings;
  inputs: readonly string[];
  inputFormat: InputFormat;
  textField: string;
  idField?: string;
  textColumn: string;
  idColumn?: string;
  output: string;
  outputFormat: OutputFormat;
  shard?: Shard;
  resume: boolean;
  /** Whether progress is committed durably (file outputs only). */
  journal: boolean;
  /** Records tokenized and length-sorted together; bounds memory. */
  windowSize: number;
}

/** extract's own options, beside the embedder's. */
const JOB_KEYS = ['inputs', 'inputFormat', 'textField', 'idField', 'textColumn', 'idColumn', 'output', 'shard', 'shardCount', 'windowSize', 'resume', 'journal'] as const;
const EXTRACT_KEYS = [...EMBEDDER_KEYS, ...JOB_KEYS] as const;

/** Validates extract options (library or CLI) into the settings the job runs on. */
export function resolveExtractSettings(options: ExtractOptions, env: Env = process.env, naming: Naming = 'library'): ExtractSettings {
  const o = plainObject(options, 'extract options');
  if (naming === 'library') rejectUnknown(o, EXTRACT_KEYS, 'extract');
  const embedderOptions = Object.fromEntries(Object.entries(o).filter(([key]) => !(JOB_KEYS as readonly string[]).includes(key)));
  const embedder = resolveEmbedderSettings(embedderOptions as EmbedderOptions, env, naming);
  const inputs = o.inputs === undefined ? ['-'] : o.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new UsageError(`inputs must be a non-empty array of paths, got ${show(inputs)}`);
  inputs.forEach((f, i) => text(f, `inputs[${i}]`));
  if (inputs.filter((f) => f === '-').length > 1) throw new UsageError('stdin (-) can be read only once');
  const output = resolve('output', o.output, naming);
  if (output === undefined) throw new UsageError(`${labelOf('output', naming)} is required`);
  if (output !== '-' && /[/\\]$/.test(output)) {
    throw new UsageError(`${labelOf('output', naming)} ${output} ends in a path separator, so it names a folder, not a file`, 'name the output file, for example out/embeddings.npz');
  }
  const outputFormat = formatFromPath(output);
  if (!outputFormat) {
    throw new UsageError(`${labelOf('output', naming)} ${output}: unknown output format`, 'end the path in .npy, .npz or .jsonl, or pass - for JSON Lines on stdout');
  }
  if (embedder.pooling === 'none' && outputFormat === 'npy') {
    throw new UsageError(`${labelOf('pooling', naming)} none gives every text as many rows as it has tokens, which one .npy matrix cannot hold`, 'write .npz (tokens, offsets, token_ids) or JSON Lines instead');
  }
  const inputFormat = resolve('inputFormat', o.inputFormat, naming);
  const idField = o.idField === undefined ? undefined : resolve('idField', o.idField, naming);
  if (idField !== undefined && !inputs.some((f: string) => formatOf(f, inputFormat) === 'jsonl')) {
    throw new UsageError(
      `${labelOf('idField', naming)} ${idField} needs JSON Lines input, but ${inputs.join(', ')} is read as text`,
      naming === 'cli' ? 'name .jsonl files, or pass --input-format jsonl' : "name .jsonl files, or pass inputFormat: 'jsonl'",
    );
  }
  const idColumn = o.idColumn === undefined ? undefined : resolve('idColumn', o.idColumn, naming);
  if (idColumn !== undefined && !inputs.some((f: string) => TABLE_FORMATS.includes(formatOf(f, inputFormat)))) {
    throw new UsageError(`${labelOf('idColumn', naming)} ${idColumn} needs CSV, TSV or Parquet input, but ${inputs.join(', ')} is not`, 'name .csv, .tsv or .parquet files, or pass --input-format');
  }
  if (inputs.includes('-') && formatOf('-', inputFormat) === 'parquet') {
    throw new UsageError('Parquet cannot be read from stdin (its index is at the end of the file)', 'pass the .parquet file as a FILE argument');
  }
  const shardCount = o.shardCount === undefined ? undefined : resolve('shardCount', o.shardCount, naming);
  const shard = o.shard === undefined ? undefined : resolveShard(resolve('shard', o.shard, naming), env, shardCount, naming);
  if (shard && (inputs.includes('-') || outputFormat !== 'npz')) {
    throw new UsageError(
      `${labelOf('shard', naming)} needs input files and an .npz output${inputs.includes('-') ? ': stdin cannot be split the same way on every run' : ` (the parts carry their record numbers for merge), not ${output}`}`,
      'pass the input files, and -o part-I.npz; join the parts with albert-embed merge',
    );
  }
  const resumeRun = resolve('resume', o.resume, naming);
  const journal = resolve('journal', o.journal, naming);
  if (resumeRun && (inputs.includes('-') || output === '-' || !journal)) {
    throw new UsageError(
      `${labelOf('resume', naming)} continues a file output from input files: ${inputs.includes('-') ? 'stdin cannot be read again' : output === '-' ? 'stdout cannot be taken back' : 'the journal is off'}`,
      'resume runs that read files and write a .npy, .npz or .jsonl file',
    );
  }
  return {
    embedder,
    inputs: [...inputs] as string[],
    inputFormat,
    textField: resolve('textField', o.textField, naming),
    idField,
    textColumn: resolve('textColumn', o.textColumn, naming),
    idColumn,
    output,
    outputFormat,
    shard,
    resume: resumeRun,
    journal: journal && output !== '-',
    windowSize: resolve('windowSize', o.windowSize, naming),
  };
}
