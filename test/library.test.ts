// The package as a Node program imports it: by name, from the built dist/, with its types.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbedder, extract, ModelError, UsageError } from '../src/index.js';
import { ROOT, TINY_EN } from './helpers.js';

describe("import { createEmbedder } from 'albert-embed'", () => {
  it('embeds texts in order with counts and truncation flags', () => {
    const program = `
      import { createEmbedder, ModelError } from 'albert-embed';
      const embedder = await createEmbedder({ model: ${JSON.stringify(TINY_EN)}, maxLength: 8, normalize: true });
      const { embeddings, tokenCounts, truncated } = await embedder.embed(['hello world', '', 'the quick brown fox jumps over the lazy dog']);
      const norms = embeddings.map((e) => Math.hypot(...e));
      let error;
      try { await createEmbedder({ model: '/nonexistent/model' }); } catch (err) { error = { isModelError: err instanceof ModelError, exitCode: err.exitCode }; }
      console.log(JSON.stringify({ rows: embeddings.length, dim: embeddings[0].length, isFloat32: embeddings[0] instanceof Float32Array, tokenCounts, truncated, norms, error, maxLength: embedder.maxLength }));
      await embedder.close();
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 3, dim: 64, isFloat32: true, tokenCounts: [4, 2, 8], truncated: [false, false, true], error: { isModelError: true, exitCode: 4 }, maxLength: 8 });
    for (const n of out.norms) expect(Math.abs(n - 1)).toBeLessThan(1e-6);
  });

  it('ships type declarations a TypeScript program compiles against', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'test', 'types', 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('the library validates like the CLI', () => {
  // In-process: these are the calls a Node program makes.
  const usage = async (f: () => Promise<unknown>) => {
    const err = await f().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return (err as UsageError).message;
  };

  it('refuses bad options, texts and overrides, naming the option or index', async () => {
    expect(await usage(() => createEmbedder({ model: TINY_EN, pooling: 'sum' as never }))).toBe('pooling must be one of mean, cls, max, pooler, none, got "sum"');
    expect(await usage(() => createEmbedder({ model: TINY_EN, threads: 100_000 }))).toMatch(/^threads 100000 exceeds the \d+ logical CPUs/);
    const embedder = await createEmbedder({ model: TINY_EN });
    try {
      expect(await usage(() => embedder.embed('one text' as never))).toBe('embed() takes an array of strings, got string');
      expect(await usage(() => embedder.embed(['fine', [123] as never]))).toBe('texts[1] is an array, not a string');
      expect(await usage(() => embedder.embed(['fine', 'also', 42 as never]))).toBe('texts[2] is number, not a string');
      // eslint-disable-next-line no-sparse-arrays
      expect(await usage(() => embedder.embed(['a', , 'b'] as never))).toBe('texts[1] is missing (a hole in the array), not a string');
      expect(() => embedder.tokenize(5 as never)).toThrow(new UsageError('tokenize() takes a string, got number'));
      expect(await usage(() => embedder.encode('x' as never))).toBe('encode() takes an array of tokenize() results, got string');
      expect(await usage(() => embedder.encode([{ ids: [1, 2] }] as never))).toBe('items[0] is not a tokenize() result');
      expect(await usage(() => embedder.embed(['x'], { pooling: 'maximum' as never }))).toBe('pooling must be one of mean, cls, max, pooler, none, got "maximum"');
      expect(await usage(() => embedder.embed(['x'], { normalise: true } as never))).toMatch(/^embed: unknown option normalise/);
      // A valid override still works after all that.
      expect((await embedder.embed(['x'], { pooling: 'max' })).embeddings).toHaveLength(1);
    } finally {
      await embedder.close();
    }
    await embedder.close(); // a second close is harmless
    expect(await usage(() => embedder.embed(['x']))).toBe('the embedder is closed');
  });

  it('close() during embed() lets the call finish, then releases', async () => {
    const embedder = await createEmbedder({ model: TINY_EN });
    const pending = embedder.embed(Array.from({ length: 200 }, (_, i) => `text number ${i} of the dog`));
    const closed = embedder.close();
    expect((await pending).embeddings).toHaveLength(200);
    await closed;
    expect(await usage(() => embedder.embed(['x']))).toBe('the embedder is closed');
  });

  it('keeps the underlying error as the cause', async () => {
    const err = await createEmbedder({ model: '/nonexistent/model' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('extract() validates its options and its io too', async () => {
    const err = await extract({ output: 'x.csv' }, { stdin: process.stdin, stdout: process.stdout, notice: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('output x.csv: unknown output format');
    const noStdout = await extract({ inputs: [TINY_EN + '/config.json'], output: '-', model: TINY_EN }, { stdin: process.stdin, notice: () => {} } as never).catch((e: unknown) => e);
    expect(noStdout).toBeInstanceOf(UsageError);
    expect((noStdout as Error).message).toBe("output '-' writes JSON Lines to io.stdout, and extract() was given none");
  });
});
