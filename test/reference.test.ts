// Truth check: the ONNX graphs, run through the real embedder (tokenizer, batching, padding,
// pooling), against an independent float64 TypeScript ALBERT over the same weights.
//
// Tolerance: 1e-4 absolute, the bar the extract issue sets for unseen checkpoints. ONNX runs in
// float32; with LayerNorm keeping activations O(1), float32 rounding through 4-8 layer
// applications accumulates to ~1e-6, so 1e-4 still fails on any real error (a wrong epsilon,
// gelu variant, mask or sharing scheme moves values by 1e-3 or far more).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModelFolder, TINY_EN, TINY_ZH, type ModelSpec } from '../tools/fixture-builder/build.js';
import { createEmbedder, type Embedder } from '../src/index.js';
import { albertForward, referencePool } from './reference/albert.js';
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
];

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
