// End to end: the built CLI as a child process on the fixture models.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelFolder, TINY_EN as TINY_EN_SPEC } from '../tools/fixture-builder/build.js';
import { createEmbedder, type Embedder } from '../src/index.js';
import { maxAbsDiff, ROOT, runMain, tempDir, TEXTS, TINY_EN, TINY_ZH } from './helpers.js';

const dir = tempDir();
const en = join(TEXTS, 'en.txt');
const texts = readFileSync(en, 'utf8').split('\n').slice(0, -1);
const jsonLines = (stdout: string) => stdout.trimEnd().split('\n').map((l) => JSON.parse(l));

let embedder: Embedder;
beforeAll(async () => {
  embedder = await createEmbedder({ model: TINY_EN });
});
afterAll(() => embedder.close());

describe('extract', () => {
  it('reads stdin when no FILE is given, and a file and - give the same rows', async () => {
    const fromStdin = await runMain(['extract', '-o', '-', '--model', TINY_EN], { input: readFileSync(en) });
    const fromDash = await runMain(['extract', '-', '-o', '-', '--model', TINY_EN], { input: readFileSync(en) });
    const fromFile = await runMain(['extract', en, '-o', '-', '--model', TINY_EN]);
    for (const r of [fromStdin, fromDash, fromFile]) expect(r.code, r.stderr).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(fromDash.stdout).toBe(fromFile.stdout);
    expect(jsonLines(fromFile.stdout)).toHaveLength(texts.length);
  });

  it('handles CRLF and a BOM like plain LF text', async () => {
    const crlf = join(dir, 'crlf.txt');
    writeFileSync(crlf, `\uFEFF${texts.join('\r\n')}\r\n`);
    const a = await runMain(['extract', crlf, '-o', '-', '--model', TINY_EN, '-q']);
    const b = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '-q']);
    expect(a.stdout).toBe(b.stdout);
  });

  it('concatenates several inputs in order, numbering records across them', async () => {
    const r = await runMain(['extract', en, join(TEXTS, 'records.jsonl'), '-o', '-', '--model', TINY_EN, '-q']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.id)).toEqual([...texts.map((_, i) => i), 6, 7, 8, 9]);
    const { embeddings } = await embedder.embed(['Hello world, the embeddings are great!']);
    expect(maxAbsDiff(lines[6].embedding, embeddings[0])).toBeLessThan(1e-6);
  });

  it('reads JSON Lines from stdin with --input-format, --text-field and --id-field', async () => {
    const input = '{"key": "a", "body": "the dog"}\n{"key": "b", "body": "the cat"}\n';
    const r = await runMain(['extract', '--input-format', 'jsonl', '--text-field', 'body', '--id-field', 'key', '-o', '-', '--model', TINY_EN, '-q'], { input });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.id)).toEqual(['a', 'b']);
    const { embeddings } = await embedder.embed(['the dog', 'the cat']);
    lines.forEach((l, i) => expect(maxAbsDiff(l.embedding, embeddings[i])).toBeLessThan(1e-6));
  });

  it.each(['mean', 'cls', 'max'] as const)('--pooling %s gives the library rows for that pooling', async (pooling) => {
    const r = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '--pooling', pooling, '-q']);
    expect(r.code, r.stderr).toBe(0);
    const { embeddings } = await embedder.embed(texts, { pooling });
    jsonLines(r.stdout).forEach((l, i) => expect(maxAbsDiff(l.embedding, embeddings[i])).toBeLessThan(1e-6));
  });

  it('the three poolings differ', async () => {
    const rows = await Promise.all((['mean', 'cls', 'max'] as const).map(async (pooling) => (await embedder.embed([texts[0]], { pooling })).embeddings[0]));
    expect(maxAbsDiff(rows[0], rows[1])).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(rows[0], rows[2])).toBeGreaterThan(1e-3);
  });

  it('--normalize writes unit-length rows in the direction of the raw ones', async () => {
    const r = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '--normalize', '-q']);
    const raw = (await embedder.embed(texts)).embeddings;
    jsonLines(r.stdout).forEach((l, i) => {
      const norm = Math.hypot(...l.embedding);
      expect(Math.abs(norm - 1)).toBeLessThan(1e-6);
      const rawNorm = Math.hypot(...raw[i]);
      expect(maxAbsDiff(l.embedding, Array.from(raw[i], (v) => v / rawNorm))).toBeLessThan(1e-6);
    });
  });

  it('truncates like Hugging Face Python, keeps [CLS]/[SEP], and accounts for it', async () => {
    const long = Array.from({ length: 200 }, (_, i) => ['the', 'dog', 'runs', 'far'][i % 4]).join(' ');
    const file = join(dir, 'long.txt');
    writeFileSync(file, `short text\n${long}\n${long} and more\n`);
    const r = await runMain(['extract', file, '-o', '-', '--model', TINY_EN]);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.tokens)).toEqual([4, 128, 128]);
    expect(lines.map((l) => l.truncated)).toEqual([false, true, true]);
    expect(r.stderr).toMatch(/2 truncated to 128 tokens/);
    // The two long texts share their first 126 text tokens, so after truncation they are the same input.
    expect(maxAbsDiff(lines[1].embedding, lines[2].embedding)).toBe(0);
    const cut = embedder.tokenize(long);
    expect(cut.ids[0]).toBe(2); // [CLS]
    expect(cut.ids[cut.ids.length - 1]).toBe(3); // [SEP]

    const short = await runMain(['extract', file, '-o', '-', '--model', TINY_EN, '--max-length', '16', '-q']);
    expect(jsonLines(short.stdout).map((l) => l.tokens)).toEqual([4, 16, 16]);
  });

  it('embeds Chinese text with the WordPiece checkpoint, one token per character', async () => {
    const r = await runMain(['extract', join(TEXTS, 'zh.txt'), '-o', '-', '--model', TINY_ZH, '-q']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.tokens)).toEqual([6, 8, 9, 9]);
    expect(lines[0].embedding).toHaveLength(48);
    expect(lines.every((l) => l.truncated === false)).toBe(true);
    expect(maxAbsDiff(lines[0].embedding, lines[1].embedding)).toBeGreaterThan(1e-3);
  });

  it('keeps stdout for data and says nothing on stderr with --quiet', async () => {
    const r = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n').every((l) => l.startsWith('{"id":'))).toBe(true);
  });

  it('without a terminal, stderr holds only the summary line', async () => {
    const r = await runMain(['extract', en, '-o', join(dir, 'summary.npy'), '--model', TINY_EN]);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^albert-embed: 6 rows, \d+ tokens, none truncated, [\d.]+ s, [\d.]+ rows\/s, [\d,]+ tokens\/s, padding [\d.]+%, 64-d on cpu -> .*summary\.npy\n$/);
  });

  it('on a terminal, draws a progress line with rows/s, tokens/s, padding and ETA from the first batch on, then the summary', async () => {
    const big = join(dir, 'big.txt');
    writeFileSync(big, Array.from({ length: 5000 }, (_, i) => `line ${i} of the quick brown fox`).join('\n'));
    // util-linux `script` gives the CLI a pseudo-terminal for stdout and stderr.
    const command = [process.execPath, join(ROOT, 'bin', 'albert-embed.js'), 'extract', big, '-o', join(dir, 'big.npy'), '--model', TINY_EN].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = [...r.stdout.matchAll(/\r\x1b\[K([\d,]+) rows \(\d+%\)\s+[\d,]+ rows\/s\s+[\d,]+ tok\/s\s+padding \d+%\s+ETA \d+:\d\d/g)];
    expect(lines.length).toBeGreaterThan(0);
    // Progress is reported per batch, so the first line comes before the first 2,048-row window is done.
    expect(Number(lines[0][1].replace(/,/g, ''))).toBeLessThan(2048);
    expect(r.stdout).toMatch(/albert-embed: 5,000 rows/);
  });

  it('--device auto falls back to CPU and says so', async () => {
    const r = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '--device', 'auto']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--device auto: CUDA unavailable .*; running on CPU/);
    expect(r.stderr).toMatch(/on cpu/);
  });

  it('reads the model from ALBERT_EMBED_MODEL', async () => {
    const r = await runMain(['extract', en, '-o', '-', '-q'], { env: { ALBERT_EMBED_MODEL: TINY_ZH } });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0].embedding).toHaveLength(48);
  });
});

describe('dtype files', () => {
  // One folder with model.onnx (float32 output) and model_fp16.onnx (same weights, output cast to
  // float16, as fp16 exports return it). fp16 rounding moves a value by at most 2^-11 of its
  // magnitude, and the last LayerNorm bounds every hidden value by sqrt(63) x max gain + max bias
  // < 12 here, so no pooled value may move by more than 12 x 2^-11 (about 0.006).
  const folder = join(dir, 'two-dtypes');
  buildModelFolder(folder, TINY_EN_SPEC);
  buildModelFolder(folder, { ...TINY_EN_SPEC, float16Output: true, onnxFile: 'model_fp16.onnx' });

  it('--dtype fp16 loads onnx/model_fp16.onnx and reads its float16 output', async () => {
    const fp32 = await runMain(['extract', en, '-o', '-', '--model', folder, '-q']);
    const fp16 = await runMain(['extract', en, '-o', '-', '--model', folder, '--dtype', 'fp16', '-q']);
    expect(fp16.code, fp16.stderr).toBe(0);
    const a = jsonLines(fp32.stdout);
    const b = jsonLines(fp16.stdout);
    a.forEach((row, i) => {
      const diff = maxAbsDiff(row.embedding, b[i].embedding);
      expect(diff).toBeLessThanOrEqual(12 * 2 ** -11);
      expect(diff).toBeGreaterThan(0);
    });
    const info = JSON.parse((await runMain(['info', '--model', folder, '--dtype', 'fp16', '--json'])).stdout);
    expect(info.dtypes).toEqual(['fp32', 'fp16']);
    expect(info.onnx).toBe(join('onnx', 'model_fp16.onnx'));
    expect(info.outputs[0].type).toBe('float16');
  });
});

describe('info', () => {
  it('describes the English fixture', async () => {
    const r = await runMain(['info', '--model', TINY_EN]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tokenizer\s+Unigram \(AlbertTokenizer\)/);
    expect(r.stdout).toMatch(/dtypes\s+fp32/);
    expect(r.stdout).toMatch(/input_ids int64 \[batch_size, sequence_length\]/);
    expect(r.stdout).toMatch(/last_hidden_state float32 \[batch_size, sequence_length, 64\]/);
  });

  it('--json describes the Chinese fixture', async () => {
    const r = await runMain(['info', '--model', TINY_ZH, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      source: 'local',
      dtypes: ['fp32'],
      onnx: join('onnx', 'model.onnx'),
      config: { model_type: 'albert', hidden_size: 48, embedding_size: 24, num_hidden_layers: 3, num_attention_heads: 3, max_position_embeddings: 256 },
      tokenizer: { kind: 'WordPiece', class: 'BertTokenizer', model_max_length: 512, special_prefix: [2], special_suffix: [3] },
      max_length: 256,
      dim: 48,
      device: 'cpu',
      onnxruntime: '1.30.0',
    });
    expect(info.inputs.map((i: { name: string }) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(info.files.map((f: { path: string }) => f.path)).toContain('tokenizer.json');
  });
});
