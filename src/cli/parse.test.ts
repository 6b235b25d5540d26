// argv -> settings, as a table. Every flag reaches the one settings object with its type.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseCommandLine, type ParsedCommand } from './parse.js';

const env = { XDG_CACHE_HOME: '/cache' };
function parse(argv: string[], overrides: { env?: Record<string, string>; stdinIsTTY?: boolean } = {}) {
  let out = '';
  let err = '';
  const result = parseCommandLine(argv, {
    env: overrides.env ?? env,
    stdinIsTTY: overrides.stdinIsTTY ?? false,
    writeOut: (t) => (out += t),
    writeErr: (t) => (err += t),
  });
  return { result, out, err };
}
function extractSettings(argv: string[], overrides?: Parameters<typeof parse>[1]) {
  const { result } = parse(['extract', ...argv], overrides);
  if (result.command !== 'extract') throw new Error(`parsed as ${result.command}`);
  return result.settings;
}

describe('extract argv -> settings', () => {
  it('fills every default', () => {
    const o = extractSettings(['in.txt', '-o', 'out.npz']);
    expect(o).toEqual({
      inputs: ['in.txt'],
      inputFormat: 'auto',
      textField: 'text',
      idField: undefined,
      textColumn: 'text',
      idColumn: undefined,
      output: 'out.npz',
      outputFormat: 'npz',
      windowSize: 2048,
      shard: undefined,
      resume: false,
      journal: true,
      embedder: {
        pooling: 'mean',
        normalize: false,
        layers: [-1],
        overflow: 'truncate',
        chunkOverlap: 0,
        precision: 'float32',
        maxLength: undefined,
        batch: { batchSize: 32, maxBatchTokens: undefined },
        model: {
          model: 'Xenova/albert-base-v2',
          dtype: 'fp32',
          device: 'cpu',
          threads: availableParallelism(),
          hub: { cacheDir: '/cache/albert-embed', offline: false, revision: 'main', endpoint: 'https://huggingface.co' },
        },
      },
    });
    expect(Object.isFrozen(o.embedder.model.hub)).toBe(true);
  });

  it.each<[string[], (o: ReturnType<typeof extractSettings>) => unknown, unknown]>([
    [['a.txt', 'b.jsonl', '-o', 'x.npy'], (o) => [o.inputs, o.outputFormat], [['a.txt', 'b.jsonl'], 'npy']],
    [['-o', '-'], (o) => [o.inputs, o.outputFormat], [['-'], 'jsonl']],
    [['-', '-o', 'x.jsonl'], (o) => o.outputFormat, 'jsonl'],
    [['-o', 'x.ndjson'], (o) => o.outputFormat, 'jsonl'],
    [['-o', 'x.npz', '--model', './m', '--dtype', 'q8'], (o) => [o.embedder.model.model, o.embedder.model.dtype], ['./m', 'q8']],
    [['-o', 'x.npz', '-m', 'a/b', '--revision', 'v2', '--cache-dir', '/c', '--offline'], (o) => o.embedder.model.hub, { cacheDir: '/c', offline: true, revision: 'v2', endpoint: 'https://huggingface.co' }],
    [['-o', 'x.npz', '--device', 'auto', '--threads', '1'], (o) => [o.embedder.model.device, o.embedder.model.threads], ['auto', 1]],
    [['-o', 'x.npz', '--max-length', '64', '--pooling', 'max', '--normalize'], (o) => [o.embedder.maxLength, o.embedder.pooling, o.embedder.normalize], [64, 'max', true]],
    [['-o', 'x.npz', '--batch-size', '8', '--max-batch-tokens', '1024'], (o) => o.embedder.batch, { batchSize: 8, maxBatchTokens: 1024 }],
    [['x.txt', '-o', 'x.npz', '--input-format', 'jsonl', '--text-field', 'body', '--id-field', 'key'], (o) => [o.inputFormat, o.textField, o.idField], ['jsonl', 'body', 'key']],
    [['x.csv', '-o', 'x.npz', '--text-column', '2', '--id-column', 'doc'], (o) => [o.textColumn, o.idColumn], ['2', 'doc']],
    [['-o', 'x.npz', '--layer', '-1,-2,0'], (o) => o.embedder.layers, [-1, -2, 0]],
    [['-o', 'x.npz', '--overflow', 'chunk', '--chunk-overlap', '32', '--precision', 'float16', '--pooling', 'pooler'], (o) => [o.embedder.overflow, o.embedder.chunkOverlap, o.embedder.precision, o.embedder.pooling], ['chunk', 32, 'float16', 'pooler']],
  ])('%j', (argv, pick, expected) => {
    expect(pick(extractSettings(argv))).toEqual(expected);
  });

  it('reads the model and offline mode from the environment', () => {
    const o = extractSettings(['-o', 'x.npz'], { env: { ALBERT_EMBED_MODEL: '/models/a', HF_HUB_OFFLINE: '1', ALBERT_EMBED_CACHE: '/ac', HF_ENDPOINT: 'http://127.0.0.1:9' } });
    expect(o.embedder.model.model).toBe('/models/a');
    expect(o.embedder.model.hub).toMatchObject({ offline: true, cacheDir: '/ac', endpoint: 'http://127.0.0.1:9' });
  });

  it.each<[string[], RegExp]>([
    [['-o', 'x.csv'], /^-o x\.csv: unknown output format/],
    [['-o', 'out/'], /^-o out\/ ends in a path separator, so it names a folder/],
    [['-o', 'out.npz/'], /^-o out\.npz\/ ends in a path separator/],
    [['-o', 'x.npz', '--batch-size', '0'], /^--batch-size must be a positive integer, got 0$/],
    [['-o', 'x.npz', '--threads', 'many'], /^--threads must be a positive integer, got "many"$/],
    [['-o', 'x.npz', '--threads', '10000'], new RegExp(`^--threads 10000 exceeds the ${availableParallelism()} logical CPUs this process may use$`)],
    [['-o', 'x.npz', '--max-length', '-5'], /^--max-length must be a positive integer, got "-5"$/],
    [['-o', 'x.npz', '--max-batch-tokens', '1.5'], /^--max-batch-tokens must be a positive integer, got "1.5"$/],
    [['-', '-', '-o', 'x.npz'], /^stdin \(-\) can be read only once$/],
    [['a.txt', '-o', 'x.npz', '--id-field', 'id'], /^--id-field id needs JSON Lines input, but a\.txt is read as text$/],
    [['a.txt', '-o', 'x.npz', '--id-column', 'id'], /^--id-column id needs CSV, TSV or Parquet input, but a\.txt is not$/],
    [['-', '-o', 'x.npz', '--input-format', 'parquet'], /^Parquet cannot be read from stdin/],
    [['-o', 'x.npz', '--layer', 'last'], /^--layer must be a non-empty list of layer indexes .*got "last"$/],
    [['-o', 'x.npy', '--pooling', 'none'], /^--pooling none gives every text as many rows as it has tokens, which one \.npy matrix cannot hold$/],
    [['-o', 'x.npz', '--pooling', 'none', '--overflow', 'chunk'], /^--pooling none keeps every token's vector, which --overflow chunk has no way to combine$/],
  ])('%j is a usage error', (argv, message) => {
    const err = (() => {
      try {
        parse(['extract', ...argv]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it('names the limit the hint suggests for --threads', () => {
    expect(() => parse(['extract', '-o', 'x.npz', '--threads', '10000'])).toThrow(expect.objectContaining({ hint: `use --threads ${availableParallelism()} or less` }));
  });

  it('needs input when stdin is a terminal', () => {
    expect(() => parse(['extract', '-o', 'x.npz'], { stdinIsTTY: true })).toThrow(/no input/);
  });

  it.each<[string[], RegExp]>([
    [['extract', 'a.txt'], /required option '-o, --output <path>' not specified/],
    [['extract', '-o', 'x.npz', '--pooling', 'sum'], /--pooling <mode>' argument 'sum' is invalid/],
    [['extract', '-o', 'x.npz', '--dtype', 'fp64'], /argument 'fp64' is invalid/],
    [['extract', '-o', 'x.npz', '--bogus'], /unknown option '--bogus'/],
    [['embed'], /unknown command 'embed'/],
  ])('commander rejects %j with exit code 2', (argv, message) => {
    const { result, err } = parse(argv);
    expect(result).toEqual<ParsedCommand>({ command: 'exit', code: 2 });
    expect(err).toMatch(message);
    expect(err.startsWith('albert-embed: ')).toBe(true);
  });

  it('prints help and version with exit code 0', () => {
    const help = parse(['extract', '--help']);
    expect(help.result).toEqual({ command: 'exit', code: 0 });
    expect(help.out).toContain('--max-batch-tokens');
    const version = parse(['--version']);
    expect(version.result).toEqual({ command: 'exit', code: 0 });
    expect(version.out).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('info argv -> settings', () => {
  it('takes model flags and --json', () => {
    const { result } = parse(['info', '--model', 'fixtures/albert-tiny', '--json', '--dtype', 'fp16']);
    expect(result).toMatchObject({ command: 'info', json: true, embedder: { model: { model: 'fixtures/albert-tiny', dtype: 'fp16' } } });
  });
});

describe('quantize and convert --quantize argv -> settings', () => {
  it('quantize takes the folder, --force and --threads', () => {
    expect(parse(['quantize', './m']).result).toEqual({ command: 'quantize', settings: { folder: './m', force: false, threads: availableParallelism() }, output: { quiet: false, verbose: false } });
    expect(parse(['quantize', './m', '--force', '--threads', '1', '-q']).result).toMatchObject({ command: 'quantize', settings: { folder: './m', force: true, threads: 1 }, output: { quiet: true } });
  });

  it('quantize without a folder, or with a flag it does not take, is a usage error', () => {
    expect(parse(['quantize']).result).toEqual({ command: 'exit', code: 2 });
    const { result, err } = parse(['quantize', './m', '--dtype', 'q8']);
    expect(result).toEqual({ command: 'exit', code: 2 });
    expect(err).toMatch(/unknown option '--dtype'/);
  });

  it('convert --quantize', () => {
    const { result } = parse(['convert', 'ckpt', '-o', 'out', '--quantize']);
    expect(result).toMatchObject({ command: 'convert', settings: { checkpoint: 'ckpt', output: 'out', quantize: true, force: false } });
    expect(parse(['convert', 'ckpt', '-o', 'out']).result).toMatchObject({ settings: { quantize: false } });
  });
});
