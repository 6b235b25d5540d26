// numpy is the real client of our files: every output kind is loaded with
// numpy.load(path, allow_pickle=False) in a Python process and checked for shape, dtype, ids
// and values. Values are compared with the library's own rows for the same texts: the CLI and
// the library share one core, so they must agree to float32 precision (tolerance 1e-6, which
// only allows for a different batch grouping between the two runs).
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder, type Embedder } from '../src/index.js';
import { prepareOutput } from '../src/output/sinks.js';
import { maxAbsDiff, numpy, runMain, tempDir, TEXTS, TINY_EN } from './helpers.js';

const dir = tempDir();
const writeTemp = (text: string) => {
  const path = join(dir, `stdout-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(path, text);
  return path;
};
const en = join(TEXTS, 'en.txt');
const texts = readFileSync(en, 'utf8').split('\n').slice(0, -1);
let embedder: Embedder;
let expected: Float32Array[];

beforeAll(async () => {
  embedder = await createEmbedder({ model: TINY_EN });
  expected = (await embedder.embed(texts)).embeddings;
});
afterAll(() => embedder.close());

const LOAD = `
z = numpy.load(sys.argv[1], allow_pickle=False)
def describe(a):
    return {"shape": list(a.shape), "dtype": a.dtype.str, "c_contiguous": bool(a.flags["C_CONTIGUOUS"]), "values": a.tolist()}
if isinstance(z, numpy.ndarray):
    print(json.dumps(describe(z)))
else:
    print(json.dumps({k: describe(z[k]) for k in z.files}))
`;

describe('numpy reads', () => {
  it('.npy: float32 [rows, dim], C order, rows in input order', async () => {
    const out = join(dir, 'e.npy');
    const run = await runMain(['extract', en, '-o', out, '--model', TINY_EN]);
    expect(run.code, run.stderr).toBe(0);
    const a = numpy(LOAD, out);
    expect(a.shape).toEqual([texts.length, 64]);
    expect(a.dtype).toBe('<f4');
    expect(a.c_contiguous).toBe(true);
    a.values.forEach((row: number[], i: number) => expect(maxAbsDiff(row, expected[i])).toBeLessThan(1e-6));
  });

  it('.npz: embeddings, ids, token_counts, truncated, meta', async () => {
    const out = join(dir, 'e.npz');
    const run = await runMain(['extract', en, '-o', out, '--model', TINY_EN]);
    expect(run.code, run.stderr).toBe(0);
    const z = numpy(LOAD, out);
    expect(Object.keys(z).sort()).toEqual(['embeddings', 'ids', 'meta', 'token_counts', 'truncated']);
    expect(z.embeddings.shape).toEqual([texts.length, 64]);
    expect(z.embeddings.dtype).toBe('<f4');
    z.embeddings.values.forEach((row: number[], i: number) => expect(maxAbsDiff(row, expected[i])).toBeLessThan(1e-6));
    expect(z.ids.dtype).toMatch(/^<U\d+$/);
    expect(z.ids.values).toEqual(texts.map((_, i) => String(i)));
    expect(z.token_counts.dtype).toBe('<i4');
    expect(z.token_counts.values).toEqual(texts.map((t) => embedder.tokenize(t).ids.length));
    expect(z.truncated.dtype).toBe('|b1');
    expect(z.truncated.values).toEqual(texts.map(() => false));
    expect(z.meta.shape).toEqual([]);
    const meta = JSON.parse(z.meta.values);
    expect(meta).toMatchObject({ tool: 'albert-embed', model: TINY_EN, dtype: 'fp32', pooling: 'mean', normalize: false, max_length: 128, dim: 64, rows: texts.length, onnxruntime_version: '1.30.0' });
    expect(Object.keys(meta.files_sha256)).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']);
    // Every member's CRC-32 checks out (zipfile.testzip reads each one back).
    expect(numpy('import zipfile\nprint(json.dumps(zipfile.ZipFile(sys.argv[1]).testzip()))', out)).toBeNull();
  });

  it('.npz with JSON Lines ids keeps them as strings', async () => {
    const out = join(dir, 'ids.npz');
    const run = await runMain(['extract', join(TEXTS, 'records.jsonl'), '--id-field', 'id', '-o', out, '--model', TINY_EN]);
    expect(run.code, run.stderr).toBe(0);
    const z = numpy(LOAD, out);
    expect(z.ids.values).toEqual(['doc-1', 'doc-2', '3', 'doc-4']);
    expect(z.embeddings.shape).toEqual([4, 64]);
  });

  it('ids beyond 2^53, decimals and exponents stay exactly as written, in .npz and JSON Lines', async () => {
    // As doubles, the first two are the same number and 1.50 would print as 1.5.
    const ids = ['12345678901234567890', '12345678901234567891', '1.50', '-2E+3', '"9007199254740993"', '"\\ud800"'];
    const input = join(dir, 'big-ids.jsonl');
    writeFileSync(input, ids.map((id) => `{"id": ${id}, "text": "the dog"}`).join('\n'));
    const out = join(dir, 'big-ids.npz');
    expect((await runMain(['extract', input, '--id-field', 'id', '-o', out, '--model', TINY_EN])).code).toBe(0);
    expect(numpy(LOAD.replace('a.tolist()', '[repr(x) for x in a.tolist()] if a.dtype.kind == "U" else a.tolist()'), out).ids.values).toEqual(
      ["'12345678901234567890'", "'12345678901234567891'", "'1.50'", "'-2E+3'", "'9007199254740993'", "'\\ud800'"],
    );
    const lines = await runMain(['extract', input, '--id-field', 'id', '-o', '-', '--model', TINY_EN, '-q']);
    // Python's json keeps integers exact and reads the rest as written: the ids round-trip.
    const read = numpy('print(json.dumps([repr(json.loads(l)["id"]) for l in open(sys.argv[1]).read().splitlines()]))', writeTemp(lines.stdout));
    expect(read).toEqual(['12345678901234567890', '12345678901234567891', '1.5', '-2000.0', "'9007199254740993'", "'\\ud800'"]);
    expect(lines.stdout.split('\n').map((l) => l.slice(0, l.indexOf(',"embedding"'))).slice(0, 6)).toEqual(ids.map((id) => `{"id":${id}`));
  });

  it('an empty input gives a [0, dim] matrix', async () => {
    const out = join(dir, 'empty.npz');
    const run = await runMain(['extract', '-', '-o', out, '--model', TINY_EN], { input: '' });
    expect(run.code, run.stderr).toBe(0);
    const z = numpy(LOAD, out);
    expect(z.embeddings.shape).toEqual([0, 64]);
    expect(z.ids.shape).toEqual([0]);
  });

  it('a ZIP64 archive (forced for a small file, the path >4 GiB outputs take)', async () => {
    const out = join(dir, 'zip64.npz');
    const prepared = await prepareOutput({ path: out, format: 'npz', stdout: process.stdout, forceZip64: true });
    const sink = await prepared.open({ dim: 64, precision: 'float32', tokens: false, chunks: false });
    const rows = new Float32Array(expected.length * 64);
    expected.forEach((r, i) => rows.set(r, i * 64));
    await sink.write({ rows, ids: texts.map((_, i) => `r${i}`), tokenCounts: texts.map(() => 3), truncated: texts.map(() => true), chunks: texts.map(() => 1) });
    await sink.finish({ test: 'zip64' });
    // The end of central directory must point at a ZIP64 record for this to be the ZIP64 path.
    const file = await open(out, 'r');
    const { size } = await file.stat();
    const tail = Buffer.alloc(22 + 20);
    await file.read(tail, 0, tail.length, size - tail.length);
    await file.close();
    expect(tail.readUInt32LE(0)).toBe(0x07064b50);
    const z = numpy(LOAD, out);
    expect(z.embeddings.shape).toEqual([texts.length, 64]);
    z.embeddings.values.forEach((row: number[], i: number) => expect(maxAbsDiff(row, expected[i])).toBe(0));
    expect(z.ids.values[1]).toBe('r1');
    expect(z.truncated.values.every(Boolean)).toBe(true);
  });
});

describe('JSON Lines', () => {
  it('-o - streams one object per record to stdout, float32 values exact', async () => {
    const run = await runMain(['extract', '-o', '-', '--model', TINY_EN], { input: readFileSync(en) });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(texts.map((_, i) => i));
    lines.forEach((l, i) => {
      expect(Array.from(Float32Array.from(l.embedding))).toEqual(Array.from(expected[i]));
      expect(l.tokens).toBe(embedder.tokenize(texts[i]).ids.length);
      expect(l.truncated).toBe(false);
    });
    expect(run.stderr).toContain(`${texts.length} rows`);
  });

  it('.jsonl file output equals the stdout stream', async () => {
    const out = join(dir, 'e.jsonl');
    const run = await runMain(['extract', en, '-o', out, '--model', TINY_EN, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const stdout = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '--quiet']);
    expect(readFileSync(out, 'utf8')).toBe(stdout.stdout);
  });
});
