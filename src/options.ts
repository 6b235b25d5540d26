// The settings the library runs on: every default and every check on a value lives here, so the
// CLI and library callers get the same behaviour and core code never sees a raw flag string.
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { DTYPES, isDtype, type Dtype } from './model/dtypes.js';
import type { ModelSettings } from './model/model.js';
import type { DeviceChoice } from './model/session.js';
import { POOLINGS, type Pooling } from './pipeline/pooling.js';

export const DEFAULT_MODEL = 'Xenova/albert-base-v2';
export const DEVICES: readonly DeviceChoice[] = ['cpu', 'cuda', 'auto'];
export const DEFAULT_BATCH_SIZE = 32;
/**
 * Padded tokens per forward pass when --max-batch-tokens is not given. On CPU, measured by
 * `npm run bench -- engine` (BENCHMARKS.md): budgets of 512-1024 keep a batch's feed-forward
 * activations (tokens x 3072 floats, 12 MiB at 1024) in cache; 8192 ran 27-49% slower. The
 * CUDA figure follows text-embeddings-inference's default and is not measured here.
 */
export const DEFAULT_MAX_BATCH_TOKENS: Readonly<Record<'cpu' | 'cuda', number>> = { cpu: 1024, cuda: 16384 };
/** Records tokenized and length-sorted together by extract: bounds memory, feeds the sort. */
export const DEFAULT_WINDOW = 2048;

/** What a library caller may pass to createEmbedder; everything is optional. */
export interface EmbedderOptions {
  /** Local folder or hub id; default $ALBERT_EMBED_MODEL, else Xenova/albert-base-v2. */
  model?: string;
  dtype?: Dtype;
  device?: DeviceChoice;
  /** onnxruntime intra-op threads; default os.availableParallelism(). */
  threads?: number;
  cacheDir?: string;
  revision?: string;
  /** Never touch the network; default true when HF_HUB_OFFLINE=1. */
  offline?: boolean;
  /** Tokens per text including special tokens; default the model's limit. */
  maxLength?: number;
  pooling?: Pooling;
  normalize?: boolean;
  batchSize?: number;
  maxBatchTokens?: number;
}

export interface EmbedderSettings {
  model: ModelSettings;
  /** undefined: the smaller of the tokenizer's model_max_length and max_position_embeddings. */
  maxLength?: number;
  pooling: Pooling;
  normalize: boolean;
  /** maxBatchTokens undefined: DEFAULT_MAX_BATCH_TOKENS for the device the session opens on. */
  batch: { batchSize: number; maxBatchTokens?: number };
}

type Env = Readonly<Record<string, string | undefined>>;

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

function positiveInt(value: number | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag} must be a positive integer, got ${value}`);
  return value;
}

export function defaultCacheDir(env: Env): string {
  if (env.ALBERT_EMBED_CACHE) return env.ALBERT_EMBED_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'albert-embed');
}

export function resolveEmbedderSettings(options: EmbedderOptions, env: Env = process.env): EmbedderSettings {
  const dtype = options.dtype ?? 'fp32';
  if (!isDtype(dtype)) throw new UsageError(`--dtype ${dtype} is not one of ${DTYPES.join(', ')}`);
  const device = options.device ?? 'cpu';
  if (!DEVICES.includes(device)) throw new UsageError(`--device ${device} is not one of ${DEVICES.join(', ')}`);
  const pooling = options.pooling ?? 'mean';
  if (!POOLINGS.includes(pooling)) throw new UsageError(`--pooling ${pooling} is not one of ${POOLINGS.join(', ')}`);
  const maxLength = options.maxLength === undefined ? undefined : positiveInt(options.maxLength, '--max-length', 0);
  const settings: EmbedderSettings = {
    model: {
      model: options.model ?? env.ALBERT_EMBED_MODEL ?? DEFAULT_MODEL,
      dtype,
      device,
      threads: positiveInt(options.threads, '--threads', availableParallelism()),
      hub: {
        cacheDir: options.cacheDir ?? defaultCacheDir(env),
        offline: options.offline ?? (truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE)),
        revision: options.revision ?? 'main',
        endpoint: env.HF_ENDPOINT || 'https://huggingface.co',
      },
    },
    maxLength,
    pooling,
    normalize: options.normalize ?? false,
    batch: {
      batchSize: positiveInt(options.batchSize, '--batch-size', DEFAULT_BATCH_SIZE),
      maxBatchTokens: options.maxBatchTokens === undefined ? undefined : positiveInt(options.maxBatchTokens, '--max-batch-tokens', 0),
    },
  };
  return settings;
}
