// Batch invariance: a text's row does not depend on what it is batched with, how much padding
// that adds, or where the window boundaries fall.
//
// Tolerance 1e-5 absolute. Sharing a batch with longer texts changes the padded length, so
// onnxruntime runs GEMMs of other shapes whose float32 sums may be blocked differently; that
// moves values by a few ulps (~1e-7 at these magnitudes). Padding leaking into a row, by
// contrast, moves it by 1e-2 or more.
import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder, resolveExtractSettings, type Embedder } from '../src/index.js';
import { runExtract } from '../src/extract.js';
import { maxAbsDiff, TEXTS, TINY_EN } from './helpers.js';

const TOLERANCE = 1e-5;
const base = readFileSync(join(TEXTS, 'en.txt'), 'utf8').split('\n').slice(0, -1);
const long = Array.from({ length: 90 }, (_, i) => ['every', 'good', 'boy', 'does', 'fine'][i % 5]).join(' ');
const texts = [...base, long, `${long} again`, 'short', ...base.map((t) => `${t} ${long}`)];

let embedder: Embedder;
let alone: Float32Array[];
beforeAll(async () => {
  embedder = await createEmbedder({ model: TINY_EN, threads: 2 });
  alone = [];
  for (const t of texts) alone.push((await embedder.embed([t])).embeddings[0]);
});
afterAll(() => embedder.close());

describe('batch invariance', () => {
  it.each(['mean', 'cls', 'max'] as const)('%s: each text alone equals the same text in one padded batch', async (pooling) => {
    const single: Float32Array[] = [];
    for (const t of texts) single.push((await embedder.embed([t], { pooling })).embeddings[0]);
    const together = (await embedder.embed(texts, { pooling })).embeddings;
    texts.forEach((_, i) => expect(maxAbsDiff(together[i], single[i])).toBeLessThan(TOLERANCE));
  });

  it('holds across batch sizes, token budgets and windows in the streaming extract', async () => {
    for (const [batchSize, maxBatchTokens, windowSize] of [[1, 8192, 1], [3, 300, 4], [64, 100_000, 1000]]) {
      const stdout = new PassThrough();
      let text = '';
      stdout.on('data', (d) => (text += d));
      const stdin = new PassThrough();
      stdin.end(`${texts.join('\n')}\n`);
      const settings = resolveExtractSettings({ model: TINY_EN, batchSize, maxBatchTokens, threads: 2, inputFormat: 'text', output: '-', windowSize });
      await runExtract(settings, { stdin, stdout, notice: () => {} });
      const rows = text.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(rows.map((r) => r.id)).toEqual(texts.map((_, i) => i));
      rows.forEach((r, i) => expect(maxAbsDiff(r.embedding, alone[i]), `batch ${batchSize}, row ${i}`).toBeLessThan(TOLERANCE));
    }
  });
});
