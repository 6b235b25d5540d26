// int8: `quantize` on model folders (the fixtures, as an Optimum export would be read), `convert
// --quantize`, `extract --dtype q8` (its .npz meta, and checkpoints converted on the fly), the errors.
//
// Drift bound: the cosine of every int8 row to its fp32 row on the built-in sample is at least
// 0.999 for the tiny fixtures (observed 0.9998-0.99995): per-channel int8 weights and per-tensor
// uint8 activations carry about 0.5% relative error into each product, and mean pooling averages
// what is left. A wrong scale, transpose, mask or fused bias costs far more than 0.001.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, createEmbedder, quantize, type Embedder } from '../src/index.js';
import { convertFolder } from '../src/convert/convert.js';
import { measureDrift } from '../src/convert/drift.js';
import { DRIFT_SAMPLE } from '../src/convert/drift-sample.js';
import { quantizeFolder } from '../src/convert/quantize-folder.js';
import { verifyModelFolder } from '../src/convert/verify.js';
import { countNodeTypes, readOnnxModelFile } from '../src/graph/onnx-reader.js';
import { type Initializer, tensor, writeOnnxModel } from '../src/graph/onnx.js';
import { quantizeModel } from '../src/graph/quantize.js';
import { writeAlbertCheckpoint, type CheckpointSpec } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { numpy, runCli, runMain, tempDir, TEXTS, TINY_EN, TINY_ZH } from './helpers.js';

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
    // Its own batch budget (BENCHMARKS.md: as fast as fp32's, less memory); a given one wins.
    expect(q8.maxBatchTokens).toBe(512);
    const fp32 = await createEmbedder({ model: folder, threads: 1 });
    opened.push(fp32);
    expect(fp32.maxBatchTokens).toBe(1024);
    const given = await createEmbedder({ model: folder, dtype: 'q8', threads: 1, maxBatchTokens: 300 });
    opened.push(given);
    expect(given.maxBatchTokens).toBe(300);
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
    const read = readOnnxModelFile(path);
    // A copy: produce() is a view into the file's buffer.
    const floats = (t: Initializer) => new Float32Array(new Uint8Array(t.produce()).buffer);
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
      return t;
    });
    expect(initializers.filter((t) => t.name.endsWith('.ffn.bias'))).toHaveLength(4);
    writeOnnxModel(path, { ...read, graph: { ...read.graph, initializers } });

    // -q keeps warnings: they are about the result.
    const r = await runMain(['quantize', folder, '--threads', '1', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
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
    // A copy: were the checks ever to let these through, the fixture would not be the one written.
    const folder = copyOf(TINY_EN);
    await expect(quantize({ folder, force: 'yes' as unknown as boolean })).rejects.toThrow(/force must be true or false/);
    await expect(quantize({ folder, model: 'x' } as never)).rejects.toThrow(/quantize: unknown option model/);
    expect(readdirSync(join(folder, 'onnx'))).toEqual(['model.onnx']);
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

describe('quantize leaves a folder consistent', () => {
  it('an int8 graph where --dtype q8 would load it first is refused, and replaced with --force', async () => {
    const folder = copyOf(TINY_EN);
    expect((await runMain(['quantize', folder, '-q'])).code).toBe(0);
    // The fp32 graph moved to the folder's root, as some exports have it; the old int8 graph stays in onnx/.
    renameSync(join(folder, 'onnx', 'model.onnx'), join(folder, 'model.onnx'));
    rmSync(join(folder, 'quantization.json'));
    const refused = await runMain(['quantize', folder]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already has onnx\/model_quantized\.onnx \(hint: pass --force/);
    expect((await runMain(['quantize', folder, '--force', '-q'])).code).toBe(0);
    expect(existsSync(join(folder, 'model_quantized.onnx'))).toBe(true);
    expect(readdirSync(join(folder, 'onnx'))).toEqual([]);
    const q8 = await createEmbedder({ model: folder, dtype: 'q8', threads: 1 });
    opened.push(q8);
    expect(q8.description.onnx).toBe(join(folder, 'model_quantized.onnx'));
  });

  it('removes the scratch folders of dead quantize runs, not of live ones', async () => {
    const folder = copyOf(TINY_EN);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const live = spawn('sleep', ['30']);
    try {
      for (const pid of [dead, live.pid!]) mkdirSync(join(folder, `.albert-embed-quantize.${pid}.0badc0de.tmp`, 'onnx'), { recursive: true });
      expect((await runMain(['quantize', folder, '-q'])).code).toBe(0);
      expect(readdirSync(folder).filter((f) => f.startsWith('.'))).toEqual([`.albert-embed-quantize.${live.pid}.0badc0de.tmp`]);
    } finally {
      live.kill();
    }
  });

  it('concurrent first runs on a checkpoint: one converts and quantizes, the others wait, all succeed alike', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), spec);
    const env = { ALBERT_EMBED_CACHE: join(dir, 'cache') };
    const runs = await Promise.all([0, 1, 2].map(() => runCli(['extract', join(TEXTS, 'en.txt'), '--model', join(dir, 'ckpt'), '--dtype', 'q8', '-o', '-', '--threads', '1'], { env })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(runs.filter((r) => /converting it once into/.test(r.stderr))).toHaveLength(1);
    expect(runs.filter((r) => /adding the int8 graph/.test(r.stderr))).toHaveLength(1);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(runs[0].stdout.trim().split('\n')).toHaveLength(6);
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
    // A q8 row depends a little on its batch, so its batches are among the settings (--resume
    // refuses other ones).
    expect(meta).toMatchObject({ batch_size: 32, max_batch_tokens: 512 });

    const fp32 = join(tempDir(), 'fp32.npz');
    expect((await runMain(['extract', join(TEXTS, 'en.txt'), '--model', folder, '-o', fp32, '--threads', '1'])).code).toBe(0);
    expect(numpy("z = numpy.load(sys.argv[1]); print(json.dumps('quantization' in json.loads(str(z['meta'][()]))))", fp32)).toBe(false);
  });

  it('a quantization record that cannot be read is refused before anything is written; one of another graph is left out', async () => {
    const folder = copyOf(TINY_EN);
    expect((await runMain(['quantize', folder, '-q'])).code).toBe(0);
    const record = readFileSync(join(folder, 'quantization.json'), 'utf8');
    writeFileSync(join(folder, 'quantization.json'), '{x');
    const out = join(tempDir(), 'q8.npz');
    const bad = await runMain(['extract', join(TEXTS, 'en.txt'), '--model', folder, '--dtype', 'q8', '-o', out]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/^albert-embed: .*quantization\.json is not a valid quantization record: .* \(hint: write it again with: albert-embed quantize --force .*\)$/m);
    expect(readdirSync(join(out, '..'))).toEqual([]);

    // Another int8 graph in place of ours (re-exported, say): the record is not about it.
    writeFileSync(join(folder, 'quantization.json'), record);
    const other = quantizeModel(readOnnxModelFile(join(folder, 'onnx', 'model.onnx')), {}).model;
    writeOnnxModel(join(folder, 'onnx', 'model_quantized.onnx'), other);
    expect((await runMain(['extract', join(TEXTS, 'en.txt'), '--model', folder, '--dtype', 'q8', '-o', out, '-q'])).code).toBe(0);
    expect(numpy("z = numpy.load(sys.argv[1]); print(json.dumps('quantization' in json.loads(str(z['meta'][()]))))", out)).toBe(false);
  });

  it('shards merged: every member as a single run writes it, the q8 rows within the drift bound of its rows', async () => {
    const folder = copyOf(TINY_EN);
    expect((await runMain(['quantize', folder, '-q'])).code).toBe(0);
    const dir = tempDir();
    const input = join(dir, 'in.txt');
    // Lengths from 1 to 60 words, so that a shard's batches are not the single run's.
    writeFileSync(input, Array.from({ length: 40 }, (_, i) => Array.from({ length: 1 + ((i * 37) % 60) }, (_, j) => `word${(i + j) % 13}`).join(' ')).join('\n'));
    const args = (out: string, ...more: string[]) => ['extract', input, '--model', folder, '--dtype', 'q8', '--threads', '1', '-q', '-o', join(dir, out), ...more];
    for (const [out, ...more] of [['single.npz'], ['p0.npz', '--shard', '0/2'], ['p1.npz', '--shard', '1/2']]) expect((await runMain(args(out, ...more))).code).toBe(0);
    expect((await runMain(['merge', join(dir, 'p1.npz'), join(dir, 'p0.npz'), '-o', join(dir, 'merged.npz'), '-q'])).code).toBe(0);
    const compared = numpy(
      `a = numpy.load(sys.argv[1]); b = numpy.load(sys.argv[2])
same = {k: bool((a[k] == b[k]).all()) for k in a.files if k != 'embeddings'}
x = a['embeddings'].astype('f8'); y = b['embeddings'].astype('f8')
cos = (x * y).sum(1) / numpy.linalg.norm(x, axis=1) / numpy.linalg.norm(y, axis=1)
print(json.dumps({'same': same, 'min': float(cos.min()), 'identical': bool((x == y).all())}))`,
      join(dir, 'single.npz'),
      join(dir, 'merged.npz'),
    );
    expect(compared.same).toEqual({ ids: true, token_counts: true, truncated: true, meta: true });
    expect(compared.min).toBeGreaterThanOrEqual(DRIFT_BOUND);
    // Were they identical, the README's caveat would be wrong (and this test would say so).
    expect(compared.identical).toBe(false);
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
