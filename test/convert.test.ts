// convert: checkpoint folders in every format real ALBERT checkpoints come in, written byte for
// byte by the project's own writers, converted and embedded, against the independent reference
// ALBERT over the same weights.
//
// Tolerance: 1e-4 absolute, as in reference.test.ts: ONNX runs float32, the reference float64;
// LayerNorm keeps activations O(1), so rounding through a few layers stays near 1e-6, while any
// real error (a wrong key, transpose, activation, epsilon or group schedule) moves values by
// 1e-3 or far more.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, createEmbedder, type Embedder } from '../src/index.js';
import { convertFolder } from '../src/convert/convert.js';
import { verifyModelFolder } from '../src/convert/verify.js';
import { type CheckpointSpec, writeAlbertCheckpoint } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { writeHostileTorchLegacy, writeHostileTorchZip } from '../tools/checkpoint-writers/index.js';
import { albertForward, referencePool } from './reference/albert.js';
import { maxAbsDiff, runMain, tempDir, TINY_EN } from './helpers.js';

const TOLERANCE = 1e-4;
const ENGLISH = ['the quick brown fox jumps over the lazy dog', 'Café, naïve résumé: 1,000,000 ``quoted\'\' words!', 'hello', ''];
const CHINESE = ['我爱编程，这是一种艺术。', 'Hello World 我们', 'ALBERT model 中文', ''];

const small = { embedding_size: 16, hidden_size: 32, num_hidden_layers: 3, num_hidden_groups: 1, inner_group_num: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, initializer_range: 0.1 };

const cases: Array<{ name: string; spec: CheckpointSpec; texts: string[]; format: RegExp }> = [
  {
    name: 'safetensors, AlbertModel keys, spiece.model, gelu_new, a 2019-style config (no model_type, architectures or layer_norm_eps)',
    spec: { format: 'safetensors', tokenizer: { kind: 'spiece' }, architecture: small, hiddenAct: 'gelu_new', seed: 1, head: 'none', config: 'sparse' },
    texts: ENGLISH,
    format: /^safetensors$/,
  },
  {
    name: 'legacy pytorch_model.bin, AlbertForMaskedLM (albert. prefix, decoder tied to the embeddings), position_ids',
    spec: { format: 'torch-legacy', tokenizer: { kind: 'spiece' }, architecture: { ...small, layer_norm_eps: 1e-5 }, hiddenAct: 'gelu_new', seed: 2, head: 'masked-lm', positionIds: true },
    texts: ENGLISH,
    format: /^torch legacy$/,
  },
  {
    name: 'zip pytorch_model.bin, AlbertForPreTraining, relu, 6 layers in 3 groups x 2 inner, no pooler, cased vocab.txt (ckiplab)',
    spec: {
      format: 'torch-zip',
      tokenizer: { kind: 'vocab', cased: true },
      architecture: { ...small, num_hidden_layers: 6, num_hidden_groups: 3, inner_group_num: 2 },
      hiddenAct: 'relu',
      seed: 3,
      head: 'pretraining',
      pooler: false,
      positionIds: true,
    },
    texts: CHINESE,
    format: /^torch zip$/,
  },
  {
    name: 'sharded safetensors, gelu (erf), lowercased vocab.txt (voidful)',
    spec: { format: 'safetensors-sharded', tokenizer: { kind: 'vocab', cased: false }, architecture: { ...small, num_hidden_layers: 4, num_hidden_groups: 2 }, hiddenAct: 'gelu', seed: 4, head: 'masked-lm' },
    texts: CHINESE,
    format: /^safetensors \(2 shards\)$/,
  },
  {
    name: 'sharded zip .bin, float16 storage, a classification head',
    spec: { format: 'torch-zip-sharded', tokenizer: { kind: 'spiece' }, architecture: small, hiddenAct: 'gelu_new', seed: 5, head: 'classification', storage: 'float16' },
    texts: ENGLISH,
    format: /^torch zip \(2 shards\)$/,
  },
  {
    name: 'a tokenizer.json shipped beside the weights is used as it is',
    spec: { format: 'safetensors', tokenizer: { kind: 'tokenizer.json', from: TINY_EN }, architecture: small, hiddenAct: 'gelu_new', seed: 6, head: 'none' },
    texts: ENGLISH,
    format: /^safetensors$/,
  },
];

const opened: Embedder[] = [];
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

describe.each(cases)('$name', ({ spec, texts, format }) => {
  it('converts, and extract reproduces the reference ALBERT within 1e-4', async () => {
    const dir = tempDir();
    const checkpoint = join(dir, 'checkpoint');
    const built = writeAlbertCheckpoint(checkpoint, spec);
    const out = join(dir, 'onnx-model');
    const result = await convert({ checkpoint, output: out, threads: 1 });
    expect(result.weightsFormat).toMatch(format);
    expect(result.pooler).toBe(spec.pooler !== false);
    expect(readdirSync(out).sort()).toEqual(['albert-embed-convert.json', 'config.json', 'onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint', 'onnx-model']);
    for (const pooling of ['mean', 'cls', 'max'] as const) {
      const embedder = await createEmbedder({ model: out, pooling, threads: 1 });
      opened.push(embedder);
      const { embeddings } = await embedder.embed(texts);
      let worst = 0;
      texts.forEach((text, i) => {
        const ids = Array.from(embedder.tokenize(text).ids);
        worst = Math.max(worst, maxAbsDiff(embeddings[i], referencePool(albertForward(built.config, built.weights, ids), pooling)));
      });
      expect(worst, pooling).toBeLessThan(TOLERANCE);
      expect(worst).toBeGreaterThan(0);
    }
    const outputs = (await createEmbedder({ model: out, threads: 1 }).then((e) => (opened.push(e), e))).loaded.session.outputs.map((o) => o.name);
    expect(outputs.includes('pooler_output')).toBe(spec.pooler !== false);
    expect(outputs.filter((o) => o.startsWith('hidden_states.'))).toHaveLength(spec.architecture.num_hidden_layers + 1);
  });
});

describe('weights past 2 GB go to ONNX external data', () => {
  it('(forced here with a small threshold) and load and embed the same', async () => {
    const dir = tempDir();
    const built = writeAlbertCheckpoint(join(dir, 'ckpt'), cases[0].spec);
    await convertFolder(join(dir, 'ckpt'), join(dir, 'ext'), { force: false, verify: (f) => verifyModelFolder(f, 1), externalDataThreshold: 1024 }, () => {});
    expect(statSync(join(dir, 'ext', 'onnx', 'model.onnx_data')).size).toBeGreaterThan(statSync(join(dir, 'ext', 'onnx', 'model.onnx')).size);
    expect(JSON.parse(readFileSync(join(dir, 'ext', 'config.json'), 'utf8'))['transformers.js_config']).toEqual({ use_external_data_format: { 'model.onnx': 1 } });
    const embedder = await createEmbedder({ model: join(dir, 'ext'), threads: 1 });
    opened.push(embedder);
    const { embeddings } = await embedder.embed(ENGLISH);
    ENGLISH.forEach((t, i) => expect(maxAbsDiff(embeddings[i], referencePool(albertForward(built.config, built.weights, Array.from(embedder.tokenize(t).ids)), 'mean'))).toBeLessThan(TOLERANCE));
  });
});

/** A checkpoint folder for the error cases, edited by `edit`. */
function brokenCheckpoint(edit: (dir: string) => void): string {
  const dir = join(tempDir(), 'ckpt');
  writeAlbertCheckpoint(dir, { ...cases[1].spec });
  edit(dir);
  return dir;
}
const editJson = (path: string, change: (json: Record<string, unknown>) => void) => {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  change(json);
  writeFileSync(path, JSON.stringify(json));
};

describe('convert refuses', () => {
  const marker = join(tempDir(), 'pwned');
  it.each<[string, (dir: string) => void, RegExp]>([
    ['no weights file', (d) => rmSync(join(d, 'pytorch_model.bin')), /checkpoint folder .*ckpt has no weights file: it holds config\.json, spiece\.model; convert reads model\.safetensors/],
    ['TensorFlow weights only', (d) => (rmSync(join(d, 'pytorch_model.bin')), writeFileSync(join(d, 'tf_model.h5'), 'HDF')), /holds only TensorFlow 2 weights \(tf_model\.h5\), which convert does not read.*from_tf=True/],
    ['a truncated legacy .bin', (d) => writeFileSync(join(d, 'pytorch_model.bin'), readFileSync(join(d, 'pytorch_model.bin')).subarray(0, 5000)), /pytorch_model\.bin.*(ends|truncated|cut short|past the end)/i],
    ['a missing key', (d) => editJson(join(d, 'config.json'), (c) => void (c.num_hidden_groups = 2)), /has no weight albert\.encoder\.albert_layer_groups\.1\.albert_layers\.0\.attention\.query\.weight \(expected shape \[32, 32\] from config\.json\)/],
    ['a key of the wrong shape', (d) => editJson(join(d, 'config.json'), (c) => void (c.intermediate_size = 48)), /weight albert\.encoder\.albert_layer_groups\.0\.albert_layers\.0\.ffn\.weight has shape \[64, 32\], but config\.json implies \[48, 32\]/],
    ['a BERT checkpoint', (d) => editJson(join(d, 'config.json'), (c) => void (c.model_type = 'bert')), /has model_type "bert", not "albert"/],
    ['an unknown activation', (d) => editJson(join(d, 'config.json'), (c) => void (c.hidden_act = 'mish')), /hidden_act "mish" is not supported/],
    ['a pickle that calls os.system (zip)', (d) => writeHostileTorchZip(join(d, 'pytorch_model.bin'), marker), /refers to the Python global posix\.system, which no state dict needs; refusing to load it \(nothing in it was run\)/],
    ['a pickle that calls os.system (legacy)', (d) => writeHostileTorchLegacy(join(d, 'pytorch_model.bin'), marker), /refers to the Python global posix\.system, which no state dict needs; refusing to load it \(nothing in it was run\)/],
  ])('%s: exit 4, one line, nothing written', async (_name, edit, message) => {
    const checkpoint = brokenCheckpoint(edit);
    const before = readdirSync(checkpoint).sort();
    const out = join(checkpoint, '..', 'out');
    const r = await runMain(['convert', checkpoint, '-o', out]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(checkpoint, '..')).sort()).toEqual(['ckpt']);
    expect(readdirSync(checkpoint).sort()).toEqual(before);
    expect(existsSync(marker)).toBe(false);
  });

  it('an existing output folder without --force (exit 2), and replaces it with --force', async () => {
    const dir = tempDir();
    writeAlbertCheckpoint(join(dir, 'ckpt'), cases[0].spec);
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'old.txt'), 'old');
    const refused = await runMain(['convert', join(dir, 'ckpt'), '-o', join(dir, 'out')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/-o .*out already exists and is not empty \(hint: remove it, choose another -o, or pass --force to replace it\)/);
    const forced = await runMain(['convert', join(dir, 'ckpt'), '-o', join(dir, 'out'), '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(join(dir, 'out', 'old.txt'))).toBe(false);
    expect(forced.stderr).toMatch(/^albert-embed: converted .*ckpt \(safetensors weights, tokenizer from spiece\.model, with pooler\) into .*out: onnx\/model\.onnx [\d.]+ MiB, [\d.]+ s\n$/m);
    const inside = await runMain(['convert', join(dir, 'ckpt'), '-o', join(dir, 'ckpt', 'onnx')]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/is the checkpoint folder .* or inside it; convert never writes into the checkpoint it reads/);
  });
});

function folderHash(dir: string): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(dir, f);
    hash.update(f);
    if (statSync(path).isFile()) hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}

describe('extract --model <checkpoint folder>', () => {
  it('converts once into the cache, says so, then reuses it; the checkpoint folder is never written', async () => {
    const dir = tempDir();
    const checkpoint = join(dir, 'voidful-style');
    writeAlbertCheckpoint(checkpoint, cases[3].spec);
    const before = folderHash(checkpoint);
    const cache = join(dir, 'cache');
    writeFileSync(join(dir, 'zh.txt'), `${CHINESE.join('\n')}\n`);
    const env = { ALBERT_EMBED_CACHE: cache };

    const info = await runMain(['info', '--model', checkpoint, '--json'], { env });
    expect(info.code, info.stderr).toBe(0);
    const described = JSON.parse(info.stdout);
    expect(described).toMatchObject({ kind: 'checkpoint', weights: { format: 'safetensors (2 shards)', prefix: 'albert.', pooler: true }, tokenizer: { source: 'vocab.txt' } });
    expect(described.converted_into).toMatch(new RegExp(`^${cache}/converted/[0-9a-f]{32}$`));
    expect(existsSync(join(cache, 'converted'))).toBe(true);
    expect(existsSync(described.converted_into)).toBe(false);

    const first = await runMain(['extract', join(dir, 'zh.txt'), '-o', '-', '--model', checkpoint], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`has no ONNX graph: converting it once into ${described.converted_into} (later runs reuse it)`);
    const second = await runMain(['extract', join(dir, 'zh.txt'), '-o', '-', '--model', checkpoint, '-q'], { env });
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe(first.stdout);
    expect(folderHash(checkpoint)).toBe(before);

    const after = JSON.parse((await runMain(['info', '--model', checkpoint, '--json'], { env })).stdout);
    expect(after).toMatchObject({ kind: 'model', converted_from: checkpoint, folder: described.converted_into });

    // An edited checkpoint is a different checkpoint: converted anew.
    editJson(join(checkpoint, 'config.json'), (c) => void (c.layer_norm_eps = 1e-6));
    const third = await runMain(['extract', join(dir, 'zh.txt'), '-o', '-', '--model', checkpoint], { env });
    expect(third.stderr).toMatch(/converting it once into/);
    expect(third.stdout).not.toBe(first.stdout);
  });
});
