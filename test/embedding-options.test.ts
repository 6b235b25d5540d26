// What gets embedded, against the independent reference ALBERT: layers side by side, the pooler,
// token vectors, long texts cut into windows and combined, and the on-disk precisions read back
// by numpy. The model is a converted checkpoint (convert writes hidden_states.* and pooler_output).
//
// Tolerance: 1e-4 absolute, as in reference.test.ts (float32 graph vs float64 reference through a
// few LayerNorm-bounded layers: ~1e-6 observed; any real error moves values by 1e-3 or more).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, createEmbedder, type Embedder } from '../src/index.js';
import { writeAlbertCheckpoint, type BuiltCheckpoint } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { albertHiddenStates, albertPooler, referencePool } from './reference/albert.js';
import { maxAbsDiff, numpy, runMain, tempDir, TINY_EN } from './helpers.js';

const TOLERANCE = 1e-4;
const dir = tempDir();
const model = join(dir, 'model');
let built: BuiltCheckpoint;
const TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello world', '', 'café résumé, naïve 1,000 words of the sentence model'];
// Long enough for several windows at max length 12 (10 text tokens a window).
const LONG = Array.from({ length: 37 }, (_, i) => ['the', 'dog', 'runs', 'far', 'from', 'home', 'today'][i % 7]).join(' ');

const opened: Embedder[] = [];
async function embedder(options: Parameters<typeof createEmbedder>[0]): Promise<Embedder> {
  const e = await createEmbedder({ model, threads: 1, ...options });
  opened.push(e);
  return e;
}

beforeAll(async () => {
  built = writeAlbertCheckpoint(join(dir, 'ckpt'), {
    format: 'safetensors',
    tokenizer: { kind: 'spiece' },
    architecture: { embedding_size: 16, hidden_size: 32, num_hidden_layers: 4, num_hidden_groups: 2, inner_group_num: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, initializer_range: 0.1 },
    hiddenAct: 'gelu_new',
    seed: 31,
    head: 'none',
  });
  await convert({ checkpoint: join(dir, 'ckpt'), output: model, threads: 1 });
});
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

const states = (ids: Int32Array) => albertHiddenStates(built.config, built.weights, Array.from(ids));
const concat = (parts: Float64Array[]) => Float64Array.from(parts.flatMap((p) => Array.from(p)));

describe('--layer', () => {
  it.each<[number[], number[]]>([
    [[-1], [4]],
    [[0], [0]],
    [[-1, -2, -3, -4], [4, 3, 2, 1]],
    [[2, 0], [2, 0]],
  ])('%j pools hidden_states %j and concatenates them in that order', async (layers, indexes) => {
    for (const pooling of ['mean', 'cls', 'max'] as const) {
      const e = await embedder({ layers, pooling });
      expect(e.dim).toBe(32 * layers.length);
      const { embeddings } = await e.embed(TEXTS);
      TEXTS.forEach((text, i) => {
        const hs = states(e.tokenize(text).ids);
        expect(maxAbsDiff(embeddings[i], concat(indexes.map((k) => referencePool(hs[k], pooling))))).toBeLessThan(TOLERANCE);
      });
    }
  });

  it('out of range is a usage error naming the range; an export without hidden states says to convert', async () => {
    const r = await runMain(['extract', '-', '-o', '-', '--model', model, '--layer', '5'], { input: 'x\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--layer 5 is out of range: this model has 4 layers, so indexes run 0\.\.4 \(or -5\.\.-1\)/);
    const optimum = await runMain(['extract', '-', '-o', '-', '--model', TINY_EN, '--layer', '-2'], { input: 'x\n' });
    expect(optimum.code).toBe(4);
    expect(optimum.stderr).toMatch(/--layer -2: graph .*model\.onnx has no hidden_states\.3 output .*albert-embed convert writes every layer/);
  });
});

describe('--pooling pooler', () => {
  it("is the checkpoint's pooler: tanh of a dense layer over [CLS]", async () => {
    const e = await embedder({ pooling: 'pooler' });
    const { embeddings } = await e.embed(TEXTS);
    TEXTS.forEach((text, i) => expect(maxAbsDiff(embeddings[i], albertPooler(built.weights, states(e.tokenize(text).ids).at(-1)!))).toBeLessThan(TOLERANCE));
  });

  it('a graph without pooler_output is a model error', async () => {
    const r = await runMain(['extract', '-', '-o', '-', '--model', TINY_EN, '--pooling', 'pooler'], { input: 'x\n' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--pooling pooler: graph .* has no pooler_output output/);
  });
});

describe('--pooling none', () => {
  it('gives every token vector of the chosen layers, special tokens included, with the token ids', async () => {
    const e = await embedder({ pooling: 'none', layers: [-1, 0] });
    const { embeddings, tokenIds, tokenCounts } = await e.embed(TEXTS);
    TEXTS.forEach((text, i) => {
      const ids = e.tokenize(text).ids;
      expect(Array.from(tokenIds![i])).toEqual(Array.from(ids));
      expect(tokenCounts[i]).toBe(ids.length);
      const hs = states(ids);
      const expected = concat(hs[4].map((row, t) => concat([row, hs[0][t]])));
      expect(embeddings[i]).toHaveLength(ids.length * 64);
      expect(maxAbsDiff(embeddings[i], expected)).toBeLessThan(TOLERANCE);
    });
  });

  it('.npz: tokens, offsets, token_ids, readable by numpy; .npy is refused', async () => {
    const input = join(dir, 'tokens.txt');
    writeFileSync(input, `${TEXTS.join('\n')}\n`);
    const out = join(dir, 'tokens.npz');
    const r = await runMain(['extract', input, '-o', out, '--model', model, '--pooling', 'none']);
    expect(r.code, r.stderr).toBe(0);
    const z = numpy(
      'z = numpy.load(sys.argv[1], allow_pickle=False)\nprint(json.dumps({k: {"dtype": z[k].dtype.str, "shape": list(z[k].shape), "values": z[k].tolist()} for k in z.files if k != "meta"}))',
      out,
    );
    const e = await embedder({ pooling: 'none' });
    const { embeddings, tokenIds } = await e.embed(TEXTS);
    const lengths = tokenIds!.map((t) => t.length);
    expect(z.offsets).toMatchObject({ dtype: '<i8', shape: [TEXTS.length + 1] });
    expect(z.offsets.values).toEqual([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
    expect(z.token_ids).toMatchObject({ dtype: '<i4', values: tokenIds!.flatMap((t) => Array.from(t)) });
    expect(z.tokens).toMatchObject({ dtype: '<f4', shape: [lengths.reduce((a, b) => a + b, 0), 32] });
    TEXTS.forEach((_, i) => expect(maxAbsDiff(z.tokens.values.slice(z.offsets.values[i], z.offsets.values[i + 1]).flat(), embeddings[i])).toBeLessThan(1e-6));
    expect(Object.keys(z).sort()).toEqual(['ids', 'offsets', 'token_counts', 'token_ids', 'tokens', 'truncated']);
    const npy = await runMain(['extract', input, '-o', join(dir, 'tokens.npy'), '--model', model, '--pooling', 'none']);
    expect(npy.code).toBe(2);
  });
});

/** Windows of a text's content tokens by the rule, written out independently of src/. */
function referenceWindows(content: number[], width: number, overlap: number): number[][] {
  if (content.length <= width) return [content];
  const windows: number[][] = [];
  for (let start = 0; ; start += width - overlap) {
    windows.push(content.slice(start, start + width));
    if (start + width >= content.length) return windows;
  }
}

describe('--overflow chunk', () => {
  it.each<['mean' | 'cls' | 'max', number]>([
    ['mean', 0],
    ['mean', 3],
    ['max', 4],
    ['cls', 2],
  ])('%s pooling, overlap %i: windows embedded alone and combined (weighted mean, or max)', async (pooling, overlap) => {
    const maxLength = 12;
    const e = await embedder({ pooling, overflow: 'chunk', chunkOverlap: overlap, maxLength });
    const texts = [LONG, 'short text', `${LONG} ${LONG}`];
    const { embeddings, chunks, tokenCounts, truncated } = await e.embed(texts);
    texts.forEach((text, i) => {
      // The tokenizer's content tokens of the whole text, none dropped.
      const content = e.loaded.tokenizer.encode(text);
      const windows = referenceWindows(content, maxLength - 2, overlap);
      expect(chunks[i]).toBe(windows.length);
      expect(tokenCounts[i]).toBe(windows.reduce((n, w) => n + w.length + 2, 0));
      expect(truncated[i]).toBe(false);
      const rows = windows.map((w) => referencePool(states(Int32Array.from([2, ...w, 3])).at(-1)!, pooling));
      const expected = new Float64Array(32);
      if (pooling === 'max') {
        expected.fill(-Infinity);
        rows.forEach((r) => r.forEach((v, d) => (expected[d] = Math.max(expected[d], v))));
      } else {
        const total = windows.reduce((n, w) => n + w.length + 2, 0);
        rows.forEach((r, k) => r.forEach((v, d) => (expected[d] += (v * (windows[k].length + 2)) / total)));
      }
      expect(maxAbsDiff(embeddings[i], expected)).toBeLessThan(TOLERANCE);
    });
    // Longer than the window: several windows; the short text: one, equal to truncate's row.
    expect(chunks[0]).toBeGreaterThan(1);
    expect(chunks[1]).toBe(1);
    const truncate = await embedder({ pooling, maxLength });
    expect(maxAbsDiff((await truncate.embed(['short text'])).embeddings[0], embeddings[1])).toBeLessThan(1e-6);
  });

  it('an overlap as long as a window is a usage error', async () => {
    await expect(createEmbedder({ model, overflow: 'chunk', chunkOverlap: 10, maxLength: 12 })).rejects.toThrow(/chunkOverlap 10 must be less than the 10 text tokens of a window/);
  });

  it('.npz gets chunks, and token_counts counts every window', async () => {
    const input = join(dir, 'long.txt');
    writeFileSync(input, `${LONG}\nshort\n`);
    const out = join(dir, 'chunked.npz');
    const r = await runMain(['extract', input, '-o', out, '--model', model, '--overflow', 'chunk', '--max-length', '12', '--chunk-overlap', '2']);
    expect(r.code, r.stderr).toBe(0);
    const z = numpy('z = numpy.load(sys.argv[1], allow_pickle=False)\nprint(json.dumps({"chunks": z["chunks"].tolist(), "dtype": z["chunks"].dtype.str, "tokens": z["token_counts"].tolist(), "meta": json.loads(str(z["meta"]))}))', out);
    const e = await embedder({ overflow: 'chunk', chunkOverlap: 2, maxLength: 12 });
    const { chunks, tokenCounts } = await e.embed([LONG, 'short']);
    expect(z).toMatchObject({ chunks, dtype: '<i4', tokens: tokenCounts, meta: { overflow: 'chunk', chunk_overlap: 2 } });
  });
});

describe('--overflow error', () => {
  it('stops at the first text past max length, naming its line, its token count and the limit; nothing written', async () => {
    const input = join(dir, 'strict.txt');
    writeFileSync(input, `fine\n${LONG}\n`);
    const r = await runMain(['extract', input, '-o', join(dir, 'strict.npz'), '--model', model, '--overflow', 'error', '--max-length', '12']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/strict\.txt:2: \d+ tokens, more than the 10 that fit in --max-length 12 next to 2 special tokens/);
  });
});

describe('--precision', () => {
  it('float16 is numpy\'s astype(float16) of the float32 rows; ubinary is numpy.packbits(rows > 0)', async () => {
    const input = join(dir, 'precision.txt');
    writeFileSync(input, `${TEXTS.join('\n')}\n`);
    const paths = Object.fromEntries(
      await Promise.all(
        (['float32', 'float16', 'ubinary'] as const).map(async (p) => {
          const out = join(dir, `p-${p}.npz`);
          const r = await runMain(['extract', input, '-o', out, '--model', model, '--precision', p, '--normalize']);
          expect(r.code, r.stderr).toBe(0);
          return [p, out];
        }),
      ),
    );
    const check = numpy(
      `f32 = numpy.load(sys.argv[1], allow_pickle=False)["embeddings"]
f16 = numpy.load(sys.argv[2], allow_pickle=False)
bits = numpy.load(sys.argv[3], allow_pickle=False)
print(json.dumps({"f16": f16["embeddings"].dtype.str, "bits": bits["embeddings"].dtype.str, "shape": list(bits["embeddings"].shape),
  "f16_equal": bool((f16["embeddings"] == f32.astype(numpy.float16)).all()),
  "bits_equal": bool((bits["embeddings"] == numpy.packbits(f32 > 0, axis=1)).all()),
  "meta": json.loads(str(bits["meta"]))["precision"]}))`,
      paths.float32,
      paths.float16,
      paths.ubinary,
    );
    expect(check).toEqual({ f16: '<f2', bits: '|u1', shape: [TEXTS.length, 4], f16_equal: true, bits_equal: true, meta: 'ubinary' });
    const npy = join(dir, 'p.npy');
    expect((await runMain(['extract', input, '-o', npy, '--model', model, '--precision', 'ubinary'])).code).toBe(0);
    expect(numpy('a = numpy.load(sys.argv[1], allow_pickle=False)\nprint(json.dumps([a.dtype.str, list(a.shape)]))', npy)).toEqual(['|u1', [TEXTS.length, 4]]);
  });

  it('the library returns the quantized rows beside the float32 ones', async () => {
    const e = await embedder({ precision: 'ubinary' });
    const { embeddings, quantized } = await e.embed(['hello world']);
    const expected = new Uint8Array(4);
    embeddings[0].forEach((v, d) => (expected[d >> 3] |= v > 0 ? 0x80 >> (d & 7) : 0));
    expect(Array.from(quantized![0])).toEqual(Array.from(expected));
  });
});

describe('CSV, TSV and Parquet inputs', () => {
  it('embed the texts of the chosen column, ids from --id-column, the rows of the same texts as text lines', async () => {
    const csv = join(dir, 'docs.csv');
    writeFileSync(csv, 'doc,body\nd1,"the quick brown fox"\nd2,"two\nlines, ""quoted"""\n');
    const parquet = join(dir, 'docs.parquet');
    parquetWriteFile({ filename: parquet, columnData: [{ name: 'doc', data: ['d1', 'd2'], type: 'STRING' }, { name: 'body', data: ['the quick brown fox', 'two\nlines, "quoted"'], type: 'STRING' }] });
    const e = await embedder({});
    const { embeddings } = await e.embed(['the quick brown fox', 'two\nlines, "quoted"']);
    for (const file of [csv, parquet]) {
      const r = await runMain(['extract', file, '--text-column', 'body', '--id-column', 'doc', '-o', '-', '--model', model, '-q']);
      expect(r.code, r.stderr).toBe(0);
      const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(rows.map((x) => x.id)).toEqual(['d1', 'd2']);
      rows.forEach((x, i) => expect(maxAbsDiff(x.embedding, embeddings[i])).toBeLessThan(1e-6));
    }
  });
});
