// The library resolves its options through the same table and validators as the CLI flags; its
// errors name the option as the library spells it.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { checkPassLimits, maxPassTokens, resolveEmbedderSettings, resolveExtractSettings, resolvePoolSettings, OPTIONS } from './options.js';

const usage = (f: () => unknown): UsageError => {
  try {
    f();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('no error');
};

describe('resolveEmbedderSettings (library naming)', () => {
  it.each<[Record<string, unknown>, RegExp]>([
    [{ pooling: 'sum' }, /^pooling must be one of mean, cls, max, pooler, none, got "sum"$/],
    [{ dtype: 'fp64' }, /^dtype must be one of fp32, fp16, q8, int8, uint8, q4, bnb4, q4f16, got "fp64"$/],
    [{ device: 'tpu' }, /^device must be one of cpu, cuda, auto, got "tpu"$/],
    [{ threads: 0 }, /^threads must be a positive integer, got 0$/],
    [{ threads: 2.5 }, /^threads must be a positive integer, got 2.5$/],
    [{ threads: '2' }, /^threads must be a positive integer, got "2"$/],
    [{ threads: availableParallelism() + 1 }, /^threads \d+ exceeds the \d+ logical CPUs this process may use$/],
    [{ batchSize: -1 }, /^batchSize must be a positive integer, got -1$/],
    [{ maxLength: NaN }, /^maxLength must be a positive integer, got NaN$/],
    [{ normalize: 'yes' }, /^normalize must be true or false, got "yes"$/],
    [{ model: '' }, /^model must be a non-empty string, got ""$/],
    [{ poolng: 'mean' }, /^createEmbedder: unknown option poolng \(known: model, dtype/],
    [{ layers: -1 }, /^layers must be a non-empty list of layer indexes \(integers; negative counts from the last layer\), got -1$/],
    [{ layers: [] }, /^layers must be a non-empty list .*got an empty array$/],
    [{ layers: [1.5] }, /^layers must be a non-empty list/],
    [{ overflow: 'split' }, /^overflow must be one of truncate, chunk, error, got "split"$/],
    [{ chunkOverlap: -1 }, /^chunkOverlap must be a non-negative integer, got -1$/],
    [{ precision: 'int8' }, /^precision must be one of float32, float16, ubinary, got "int8"$/],
    [{ pooling: 'none', overflow: 'chunk' }, /^pooling none keeps every token's vector, which overflow chunk has no way to combine$/],
    [{ pooling: 'pooler', layers: [-2] }, /^pooling pooler reads the pooler output of the last layer; layers does not apply to it$/],
  ])('%j is refused', (options, message) => {
    expect(usage(() => resolveEmbedderSettings(options as never, {})).message).toMatch(message);
  });

  it('is not an object', () => {
    expect(usage(() => resolveEmbedderSettings([] as never, {})).message).toBe('embedder options must be an object, got an array');
  });

  it('fills the same defaults as the flags', () => {
    expect(resolveEmbedderSettings({}, { ALBERT_EMBED_CACHE: '/c' })).toMatchObject({
      pooling: OPTIONS.pooling.default,
      normalize: false,
      batch: { batchSize: OPTIONS.batchSize.default },
      model: { dtype: OPTIONS.dtype.default, device: OPTIONS.device.default, threads: availableParallelism(), hub: { cacheDir: '/c', revision: 'main' } },
    });
  });
});

describe('resolvePoolSettings (embed overrides)', () => {
  const base = { pooling: 'mean' as const, normalize: false };
  it('validates overrides like the options', () => {
    expect(resolvePoolSettings(base, { pooling: 'cls' })).toEqual({ pooling: 'cls', normalize: false });
    expect(resolvePoolSettings(base, undefined)).toBe(base);
    expect(usage(() => resolvePoolSettings(base, { pooling: 'maximum' })).message).toMatch(/^pooling must be one of mean, cls, max/);
    expect(usage(() => resolvePoolSettings(base, { pool: 'max' })).message).toMatch(/^embed: unknown option pool/);
    expect(usage(() => resolvePoolSettings(base, 'max')).message).toBe('embed options must be an object, got "max"');
  });
});

describe('resolveExtractSettings (library naming)', () => {
  it.each<[Record<string, unknown>, RegExp]>([
    [{}, /^output is required$/],
    [{ output: 'x.csv' }, /^output x\.csv: unknown output format$/],
    [{ output: 'x.npz', inputs: 'a.txt' }, /^inputs must be a non-empty array of paths, got "a\.txt"$/],
    [{ output: 'x.npz', inputs: ['a.txt', 3] }, /^inputs\[1\] must be a non-empty string, got 3$/],
    [{ output: 'x.npz', inputs: ['a.txt'], idField: 'id' }, /^idField id needs JSON Lines input, but a\.txt is read as text$/],
    [{ output: 'x.npz', inputFormat: 'xml' }, /^inputFormat must be one of auto, text, jsonl, csv, tsv, parquet, got "xml"$/],
  ])('%j is refused', (options, message) => {
    expect(usage(() => resolveExtractSettings(options as never, {})).message).toMatch(message);
  });
});

describe('per-pass limits', () => {
  const base = { hiddenSize: 768, intermediateSize: 3072, numHeads: 12, maxLength: 512 };
  it('derive from the model and the memory', () => {
    // 4 x (6 x 768 + 2 x 3072 + 2 x 12 x 512) = 92,160 bytes per token; half of 24 GiB holds 139,810.
    expect(maxPassTokens(base, 24 * 2 ** 30)).toBe(139810);
    expect(maxPassTokens(base, 48 * 2 ** 30)).toBe(279620);
    expect(maxPassTokens({ ...base, maxLength: 128 }, 24 * 2 ** 30)).toBeGreaterThan(139810);
  });

  it('refuse sizes past them, naming the limit', () => {
    const err = usage(() => checkPassLimits({ batchSize: 32, maxBatchTokens: 10_000_000 }, base, 'cli', 24 * 2 ** 30));
    expect(err.message).toBe("--max-batch-tokens 10000000 exceeds 139,810, the tokens one forward pass of this model (hidden 768, 12 heads, max length 512) can hold in half of this machine's 24.0 GiB");
    expect(err.hint).toBe('use --max-batch-tokens 139810 or less');
    expect(usage(() => checkPassLimits({ batchSize: 200_000 }, base, 'library', 24 * 2 ** 30)).message).toMatch(/^batchSize 200000 exceeds 139,810/);
    expect(() => checkPassLimits({ batchSize: 32, maxBatchTokens: 139810 }, base, 'cli', 24 * 2 ** 30)).not.toThrow();
  });
});
