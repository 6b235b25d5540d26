// int8: `quantize` on model folders (the fixtures, as an Optimum export would be read), `convert
// --quantize`, `extract --dtype q8` (its .npz meta, and checkpoints converted on the fly), the errors.
//
// Drift bound: the cosine of every int8 row to its fp32 row on the built-in sample is at least
// 0.999 for the tiny fixtures (observed 0.9998-0.99995): per-channel int8 weights and per-tensor
// uint8 activations carry about 0.5% relative error into each product, and mean pooling averages
// what is left. A wrong scale, transpose, mask or fused bias costs far more than 0.001.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, createEmbedder, quantize, type Embedder } from '../src/index.js';
import { convertFolder } from '../src/convert/convert.js';
import { measureDrift } from '../src/convert/drift.js';
import { DRIFT_SAMPLE } from '../src/convert/drift-sample.js';
import { quantizeFolder } from '../src/convert/quantize-folder.js';
import { verifyModelFolder } from '../src/convert/verify.js';
import { countNodeTypes, initializerOf, readOnnxModel } from '../src/graph/onnx-reader.js';
import { tensor, writeOnnxModel } from '../src/graph/onnx.js';
import { writeAlbertCheckpoint, type CheckpointSpec } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { numpy, runMain, tempDir, TEXTS, TINY_EN, TINY_ZH } from './helpers.js';

const DRIFT_BOUND = 0.999;
const opened: Embedder[] = [];
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

/** A copy of a fixture folder to quantize. */
function copyOf(fixture: string): string {
  const dir = join(tempDir(), 'model');
  cpSync(fixture, dir, { recursive: true });
  return dir;
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe.each([
  ['albert-tiny (English, 2 groups x 2 inner layers)', TINY_EN, 8, 25],
  ['albert-tiny-zh (Chinese, one shared layer)', TINY_ZH, 3, 7],
])('quantize %s', (_name, fixture, blocks, weights) => {
  it('adds onnx/model_quantized.onnx and quantization.json, prints the drift, and --dtype q8 embeds within the bound', async () => {
    const folder = copyOf(fixture);
    const before = readdirSync(folder).sort();
    const r = await runMain(['quantize', folder, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^albert-embed: quantizing .*onnx\/model\.onnx$/m);
    expect(r.stderr).toMatch(
      new RegExp(`^albert-embed: quantized .*model: onnx/model_quantized\\.onnx [\\d.]+ MiB \\(\\d+ MatMuls int8, ${weights} distinct weights, ${blocks} attention blocks as QAttention\\); cosine to fp32 on ${DRIFT_SAMPLE.length} texts: min (0\\.9\\d+|1\\.0000), mean (0\\.9\\d+|1\\.0000), [\\d.]+ s$`, 'm'),
    );
    expect(readdirSync(folder).sort()).toEqual([...before, 'quantization.json'].sort());
    expect(readdirSync(join(folder, 'onnx')).sort()).toEqual(['model.onnx', 'model_quantized.onnx']);

    const record = json(join(folder, 'quantization.json'));
    expect(record).toMatchObject({ tool: 'albert-embed', source: 'onnx/model.onnx', graph: 'onnx/model_quantized.onnx', quantized: { weights }, drift: { sample: DRIFT_SAMPLE.length, pooling: 'mean' } });
    expect(record.drift.min_cosine).toBeGreaterThanOrEqual(DRIFT_BOUND);
    expect(record.drift.mean_cosine).toBeGreaterThanOrEqual(record.drift.min_cosine);
    expect(record.drift.mean_cosine).toBeLessThan(1);
    const counts = countNodeTypes(readFileSync(join(folder, 'onnx', 'model_quantized.onnx')));
    expect(counts['com.microsoft:QAttention']).toBe(blocks);
    expect(counts.MatMul).toBeUndefined();

    // The stored figures are what the embedder gives: measured again, they agree.
    const again = await measureDrift(folder, 1);
    expect(again.minCosine).toBeCloseTo(record.drift.min_cosine, 6);
    const q8 = await createEmbedder({ model: folder, dtype: 'q8', threads: 1 });
    opened.push(q8);
    expect(q8.description.onnx).toMatch(/model_quantized\.onnx$/);
  });
});

describe('poor drift', () => {
  // The classic activation outlier: one feed-forward unit fires at 1000 on every token, and its
  // row of the output projection is zero, so it adds nothing to the fp32 rows. In int8 the unit
  // sets the per-tensor activation scale (1000 / 255), every other unit (|x| ~ 1) rounds to a
  // step or two, and the rows move far: a checkpoint quantize must warn about.
  it('is reported on stderr and recorded; the int8 graph is still written', async () => {
    const folder = copyOf(TINY_EN);
    const path = join(folder, 'onnx', 'model.onnx');
    const read = readOnnxModel(readFileSync(path), path);
    // A copy: produce() is a view into the file's buffer.
    const floats = (t: Parameters<typeof initializerOf>[0]) => new Float32Array(new Uint8Array(initializerOf(t, path).produce()).buffer);
    const initializers = read.graph.initializers.map((t) => {
      if (t.name.endsWith('.ffn.bias')) {
        const bias = floats(t);
        bias[0] = 1000;
        return tensor(t.name, t.dims, bias);
      }
      if (t.name.endsWith('.ffn_output.weight.T')) {
        const weight = floats(t);
        weight.fill(0, 0, t.dims[1]);
        return tensor(t.name, t.dims, weight);
      }
      return initializerOf(t, path);
    });
    expect(initializers.filter((t) => t.name.endsWith('.ffn.bias'))).toHaveLength(4);
    writeOnnxModel(path, { ...read, graph: { ...read.graph, initializers } });

    const r = await runMain(['quantize', folder, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^albert-embed: warning: int8 drift is poor for this checkpoint: the lowest cosine of an int8 row to its fp32 row is 0\.\d{4} \(mean 0\.\d{4}\) on the \d+-text sample, below 0\.99; prefer --dtype fp32 where that matters$/m);
    const drift = json(join(folder, 'quantization.json')).drift;
    expect(drift.min_cosine).toBeLessThan(0.99);
    expect(existsSync(join(folder, 'onnx', 'model_quantized.onnx'))).toBe(true);
  });
});

describe('quantize refuses', () => {
  it('a folder without an fp32 graph (exit 4), a missing folder (exit 4), an existing int8 graph without --force (exit 2)', async () => {
    const folder = copyOf(TINY_EN);
    rmSync(join(folder, 'onnx', 'model.onnx'));
    const noGraph = await runMain(['quantize', folder]);
    expect(noGraph.code).toBe(4);
    expect(noGraph.stderr).toMatch(/^albert-embed: model folder .*model has no fp32 graph \(onnx\/model\.onnx or model\.onnx\) to quantize \(hint: /);
    expect(readdirSync(folder)).not.toContain('quantization.json');

    const missing = await runMain(['quantize', join(folder, 'nowhere')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/nowhere does not exist or is not a folder/);

    const done = copyOf(TINY_EN);
    expect((await runMain(['quantize', done, '-q'])).code).toBe(0);
    const stamp = statSync(join(done, 'onnx', 'model_quantized.onnx')).mtimeMs;
    const refused = await runMain(['quantize', done]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already has onnx\/model_quantized\.onnx \(hint: pass --force to replace it\)/);
    expect(statSync(join(done, 'onnx', 'model_quantized.onnx')).mtimeMs).toBe(stamp);
    const forced = await runMain(['quantize', done, '--force', '-q']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toBe('');
    // Nothing left behind: no scratch folder.
    expect(readdirSync(done).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('the library call names its options', async () => {
    await expect(quantize({ folder: TINY_EN, force: 'yes' as unknown as boolean })).rejects.toThrow(/force must be true or false/);
    await expect(quantize({ folder: TINY_EN, model: 'x' } as never)).rejects.toThrow(/quantize: unknown option model/);
  });
});

const small = { embedding_size: 16, hidden_size: 32, num_hidden_layers: 3, num_hidden_groups: 1, inner_group_num: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, initializer_range: 0.1 };
const spec: CheckpointSpec = { format: 'safetensors', tokenizer: { kind: 'spiece' }, architecture: small, hiddenAct: 'gelu_new', seed: 11, head: 'none' };

describe('convert --quantize', () => {
  it('writes both graphs and the drift record; the summary says so', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), spec);
    const r = await runMain(['convert', join(dir, 'ckpt'), '-o', join(dir, 'out'), '--quantize', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/into .*out: onnx\/model\.onnx [\d.]+ MiB, onnx\/model_quantized\.onnx [\d.]+ MiB \(\d+ MatMuls int8, \d+ distinct weights, 3 attention blocks as QAttention\); cosine to fp32 on \d+ texts: min (0\.9\d+|1\.0000), mean (0\.9\d+|1\.0000), [\d.]+ s$/m);
    expect(readdirSync(join(dir, 'out', 'onnx')).sort()).toEqual(['model.onnx', 'model_quantized.onnx']);
    expect(json(join(dir, 'out', 'quantization.json')).drift.min_cosine).toBeGreaterThanOrEqual(DRIFT_BOUND);
    expect(readdirSync(dir).sort()).toEqual(['ckpt', 'out']);
  });

  it('puts the int8 weights in model_quantized.onnx_data when the fp32 ones go to external data, and declares both for Transformers.js', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), spec);
    const result = await convertFolder(join(dir, 'ckpt'), join(dir, 'ext'), { force: false, verify: (f) => verifyModelFolder(f, 1), externalDataThreshold: 1024, quantize: { threads: 1 } }, () => {});
    expect(result.quantized?.externalDataBytes).toBeGreaterThan(0);
    expect(readdirSync(join(dir, 'ext', 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data', 'model_quantized.onnx', 'model_quantized.onnx_data']);
    expect(json(join(dir, 'ext', 'config.json'))['transformers.js_config']).toEqual({ use_external_data_format: { 'model.onnx': 1, 'model_quantized.onnx': 1 } });
    const embedder = await createEmbedder({ model: join(dir, 'ext'), dtype: 'q8', threads: 1 });
    opened.push(embedder);
    expect((await embedder.embed(['hello world'])).embeddings[0].every(Number.isFinite)).toBe(true);

    // quantize on such a folder does the same, config.json included.
    const copy = join(dir, 'copy');
    cpSync(join(dir, 'ext'), copy, { recursive: true });
    for (const f of ['model_quantized.onnx', 'model_quantized.onnx_data']) rmSync(join(copy, 'onnx', f));
    writeFileSync(join(copy, 'config.json'), JSON.stringify({ ...json(join(copy, 'config.json')), 'transformers.js_config': { use_external_data_format: { 'model.onnx': 1 } } }));
    await quantizeFolder(copy, { force: false, threads: 1, externalDataThreshold: 1024 }, () => {});
    expect(existsSync(join(copy, 'onnx', 'model_quantized.onnx_data'))).toBe(true);
    expect(json(join(copy, 'config.json'))['transformers.js_config']).toEqual({ use_external_data_format: { 'model.onnx': 1, 'model_quantized.onnx': 1 } });
  });

  it('through the library', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), spec);
    const result = await convert({ checkpoint: join(dir, 'ckpt'), output: join(dir, 'out'), quantize: true, threads: 1 });
    expect(result.quantized).toMatchObject({ output: 'onnx/model_quantized.onnx', report: { attentionBlocks: 3 } });
    expect(result.quantized!.drift.minCosine).toBeGreaterThanOrEqual(DRIFT_BOUND);
  });
});

describe('extract --dtype q8', () => {
  it('stores the folder\'s quantization record in the .npz meta, which numpy reads', async () => {
    const folder = copyOf(TINY_EN);
    expect((await runMain(['quantize', folder, '-q'])).code).toBe(0);
    const out = join(tempDir(), 'q8.npz');
    const r = await runMain(['extract', join(TEXTS, 'en.txt'), '--model', folder, '--dtype', 'q8', '-o', out, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const meta = numpy("z = numpy.load(sys.argv[1]); print(json.dumps(json.loads(str(z['meta'][()]))))", out);
    expect(meta.dtype).toBe('q8');
    expect(meta.files_sha256).toHaveProperty(['onnx/model_quantized.onnx']);
    expect(meta.quantization).toEqual(json(join(folder, 'quantization.json')));

    const fp32 = join(tempDir(), 'fp32.npz');
    expect((await runMain(['extract', join(TEXTS, 'en.txt'), '--model', folder, '-o', fp32, '--threads', '1'])).code).toBe(0);
    expect(numpy("z = numpy.load(sys.argv[1]); print(json.dumps('quantization' in json.loads(str(z['meta'][()]))))", fp32)).toBe(false);
  });

  it('on a folder without the int8 graph says how to add it', async () => {
    const r = await runMain(['extract', join(TEXTS, 'en.txt'), '--model', TINY_EN, '--dtype', 'q8', '-o', join(tempDir(), 'x.npy')]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/has no onnx\/model_quantized\.onnx for --dtype q8 \(dtypes present: fp32\) \(hint: use --dtype fp32, or add the int8 graph with: albert-embed quantize /);
  });

  it('on a checkpoint folder converts it once into the cache with the int8 graph, then reuses it', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), spec);
    const env = { ALBERT_EMBED_CACHE: join(dir, 'cache') };
    const args = ['extract', join(TEXTS, 'en.txt'), '--model', join(dir, 'ckpt'), '--dtype', 'q8', '-o', '-', '--threads', '1'];
    const first = await runMain(args, { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/has no ONNX graph: converting it once into/);
    expect(first.stderr).toMatch(/adding the int8 graph to .*cache\/converted\/[0-9a-f]{32} \(later runs reuse it\)/);
    const second = await runMain([...args, '-q'], { env });
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe(first.stdout);
    // fp32 from the same cached conversion; q8 rows are not fp32 rows, but close.
    const fp32 = await runMain(args.map((a) => (a === 'q8' ? 'fp32' : a)).concat('-q'), { env });
    expect(fp32.stderr).toBe('');
    expect(fp32.stdout).not.toBe(first.stdout);
    const rows = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l).embedding as number[]);
    const [a, b] = [rows(first.stdout), rows(fp32.stdout)];
    a.forEach((row, i) => {
      const dot = row.reduce((s, v, j) => s + v * b[i][j], 0);
      const norm = Math.hypot(...row) * Math.hypot(...b[i]);
      expect(dot / norm).toBeGreaterThanOrEqual(DRIFT_BOUND);
    });
    const refused = await runMain(args.map((a) => (a === 'q8' ? 'q4' : a)), { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/converting it writes --dtype fp32 and q8 only/);
  });
});
