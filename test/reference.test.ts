// Truth check: the ONNX graphs, run through the real embedder (tokenizer, batching, padding,
// pooling) or, for the extra outputs (hidden_states.k, pooler_output), through the session on a
// padded batch, against an independent float64 TypeScript ALBERT over the same weights.
//
// Tolerance: 1e-4 absolute, the bar the extract issue sets for unseen checkpoints. ONNX runs in
// float32; with LayerNorm keeping activations O(1), float32 rounding through up to 12 layer
// applications accumulates to ~1e-6, so 1e-4 still fails on any real error (a wrong epsilon,
// activation, mask, sharing scheme or hidden-state index moves values by 1e-3 or far more).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelFolder, TINY_EN, TINY_ZH, type ModelSpec } from '../tools/fixture-builder/build.js';
import { createEmbedder, type Embedder } from '../src/index.js';
import { type EncoderSession, openSession } from '../src/model/session.js';
import { albertForward, albertHiddenStates, albertPooler, erf, referencePool } from './reference/albert.js';
import { maxAbsDiff, tempDir, TINY_EN as TINY_EN_DIR, TINY_ZH as TINY_ZH_DIR, TEXTS } from './helpers.js';

const TOLERANCE = 1e-4;
const english = readFileSync(join(TEXTS, 'en.txt'), 'utf8').split('\n').slice(0, -1);
const chinese = readFileSync(join(TEXTS, 'zh.txt'), 'utf8').split('\n').slice(0, -1);

const variants: Array<{ name: string; dir?: string; spec: ModelSpec; texts: string[] }> = [
  { name: 'fixtures/albert-tiny (Unigram)', dir: TINY_EN_DIR, spec: TINY_EN, texts: english },
  { name: 'fixtures/albert-tiny-zh (WordPiece)', dir: TINY_ZH_DIR, spec: TINY_ZH, texts: chinese },
  {
    name: 'no token_type_ids input, 6 layers in 3 groups',
    spec: { ...TINY_EN, seed: 99, tokenTypeInput: false, architecture: { ...TINY_EN.architecture, num_hidden_layers: 6, num_hidden_groups: 3, inner_group_num: 1, layer_norm_eps: 1e-5 } },
    texts: english,
  },
  {
    name: 'no attention_mask input (batches of one length only)',
    spec: { ...TINY_EN, seed: 5, attentionMaskInput: false, tokenTypeInput: false },
    texts: english,
  },
  {
    name: 'older torch export: opset 14 with LayerNorm spelled out, extra pooler_output, no token_type_ids',
    spec: { ...TINY_EN, seed: 21, opset: 14, poolerOutput: true, tokenTypeInput: false, architecture: { ...TINY_EN.architecture, num_hidden_layers: 2, num_hidden_groups: 1, inner_group_num: 3 } },
    texts: english,
  },
  {
    name: 'int32 token inputs and a float32 mask',
    spec: { ...TINY_EN, seed: 3, idsType: 'int32', maskType: 'float32' },
    texts: english,
  },
  {
    name: 'fixed [2, 24] input shape, as torch.onnx.export writes without dynamic_axes',
    spec: { ...TINY_ZH, seed: 11, fixedShape: [2, 24] },
    texts: [...chinese, '编程'.repeat(30)],
  },
  { name: 'hidden_act gelu (erf), as Chinese ALBERT checkpoints use', spec: { ...TINY_ZH, seed: 31, hiddenAct: 'gelu' }, texts: chinese },
  { name: 'hidden_act relu', spec: { ...TINY_ZH, seed: 32, hiddenAct: 'relu' }, texts: chinese },
  { name: 'hidden_act silu', spec: { ...TINY_EN, seed: 33, hiddenAct: 'silu' }, texts: english },
  {
    name: '6 layers in 3 groups of 2 inner layers',
    spec: { ...TINY_EN, seed: 34, architecture: { ...TINY_EN.architecture, num_hidden_layers: 6, num_hidden_groups: 3, inner_group_num: 2 } },
    texts: english,
  },
  {
    name: 'initializers in onnx/model.onnx_data (external data forced by a zero threshold)',
    spec: { ...TINY_EN, seed: 35, hiddenAct: 'gelu', externalDataThreshold: 0 },
    texts: english,
  },
];

it("the reference's erf matches tabulated values (Abramowitz & Stegun table 7.1) to 1e-10", () => {
  const table: Array<[number, number]> = [[0.5, 0.5204998778], [1, 0.8427007929], [2, 0.995322265], [3, 0.9999779095], [4, 0.9999999846]];
  for (const [x, value] of table) {
    expect(Math.abs(erf(x) - value)).toBeLessThan(1e-10);
    expect(erf(-x)).toBe(-erf(x));
  }
});

const opened: Embedder[] = [];
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

describe.each(variants)('$name', ({ dir, spec, texts }) => {
  // The committed fixtures are rebuilt into a temp folder to get their weights; a separate test
  // checks that rebuilding reproduces the committed files byte for byte.
  const scratch = tempDir();
  const built = buildModelFolder(scratch, spec);
  const folder = dir ?? scratch;

  if (spec.externalDataThreshold === 0) {
    it('keeps its weights in the data file', () => {
      expect(statSync(join(folder, 'onnx', 'model.onnx_data')).size).toBeGreaterThan(statSync(join(folder, 'onnx', 'model.onnx')).size);
    });
  }

  it.each(['mean', 'cls', 'max'] as const)('%s pooling matches the reference within 1e-4', async (pooling) => {
    const embedder = await createEmbedder({ model: folder, pooling, threads: 1 });
    opened.push(embedder);
    const { embeddings } = await embedder.embed(texts);
    let worst = 0;
    texts.forEach((text, i) => {
      const ids = Array.from(embedder.tokenize(text).ids);
      const expected = referencePool(albertForward(built.config, built.weights, ids), pooling);
      worst = Math.max(worst, maxAbsDiff(embeddings[i], expected));
    });
    expect(worst).toBeLessThan(TOLERANCE);
    expect(worst).toBeGreaterThan(0); // float32 vs float64: an exact match would mean we compared a thing with itself
  });
});

describe('hidden_states.k and pooler_output of 6 layers in 3 groups of 2, fetched from a padded batch', () => {
  const spec: ModelSpec = {
    ...TINY_EN,
    seed: 36,
    hiddenAct: 'gelu',
    hiddenStates: true,
    poolerOutput: true,
    architecture: { ...TINY_EN.architecture, num_hidden_layers: 6, num_hidden_groups: 3, inner_group_num: 2 },
  };
  const dir = tempDir();
  const built = buildModelFolder(dir, spec);
  // Two sequences of different lengths, the second padded; token types 1 in the first's second half.
  const ids = [[2, 40, 41, 42, 43, 44, 45, 3], [2, 60, 61, 3]];
  const types = [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0]];
  const L = ids[0].length;
  const H = built.config.hidden_size;
  const feed = (rows: number[][]) => ({ data: BigInt64Array.from(rows.flatMap((r) => [...r, ...new Array(L - r.length).fill(0)]).map(BigInt)), dims: [rows.length, L] });
  const feeds = { input_ids: feed(ids), attention_mask: feed(ids.map((r) => r.map(() => 1))), token_type_ids: feed(types) };
  const expected = ids.map((row, b) => albertHiddenStates(built.config, built.weights, row, types[b]));
  let session: EncoderSession;
  beforeAll(async () => {
    session = await openSession(join(dir, 'onnx', 'model.onnx'), { device: 'cpu', threads: 1 }, () => {});
  });
  afterAll(() => session.release());

  it.each([0, 1, 2, 3, 4, 5, 6])('hidden_states.%i matches the reference within 1e-4 at every real token', async (k) => {
    const [{ data, dims }] = await session.run(feeds, [`hidden_states.${k}`]);
    expect(dims).toEqual([2, L, H]);
    let worst = 0;
    ids.forEach((row, b) => row.forEach((_, t) => (worst = Math.max(worst, maxAbsDiff(data.subarray((b * L + t) * H, (b * L + t + 1) * H), expected[b][k][t])))));
    expect(worst).toBeLessThan(TOLERANCE);
    expect(worst).toBeGreaterThan(0);
  });

  it('last_hidden_state is hidden_states.6', async () => {
    const [last] = await session.run(feeds, ['last_hidden_state']);
    const [six] = await session.run(feeds, ['hidden_states.6']);
    expect(Array.from(last.data)).toEqual(Array.from(six.data));
  });

  it('pooler_output matches the reference within 1e-4', async () => {
    const [{ data, dims }] = await session.run(feeds, ['pooler_output']);
    expect(dims).toEqual([2, H]);
    const worst = Math.max(...ids.map((_, b) => maxAbsDiff(data.subarray(b * H, (b + 1) * H), albertPooler(built.weights, expected[b].at(-1)!))));
    expect(worst).toBeLessThan(TOLERANCE);
    expect(worst).toBeGreaterThan(0);
  });
});
