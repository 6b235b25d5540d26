// Bad input of many kinds: a documented exit code, one clear line on stderr naming the file,
// line or flag, no stack trace, and nothing left under the output name (nor temp files beside it).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModelFolder, TINY_EN as TINY_EN_SPEC } from '../tools/fixture-builder/build.js';
import { BIN, ROOT, runCli, tempDir, TEXTS, TINY_EN } from './helpers.js';

const en = join(TEXTS, 'en.txt');

interface Case {
  name: string;
  args: (out: string, dir: string) => string[];
  setup?: (dir: string) => void;
  input?: string;
  code: number;
  message: RegExp;
}

/** A copy of the English fixture in `dir`/model with `file` replaced by `content`, or removed (null). */
const editedModel = (dir: string, file: string, content: string | null) => {
  const copy = join(dir, 'model');
  cpSync(TINY_EN, copy, { recursive: true });
  if (content === null) rmSync(join(copy, file));
  else writeFileSync(join(copy, file), content);
};
const inModel = (o: string, d: string) => ['extract', en, '-o', o, '--model', join(d, 'model')];

const cases: Case[] = [
  { name: 'missing input file', args: (o) => ['extract', 'nope.txt', '-o', o, '--model', TINY_EN], code: 3, message: /input file nope\.txt cannot be read: ENOENT/ },
  { name: 'input is a folder', args: (o, d) => ['extract', d, '-o', o, '--model', TINY_EN], code: 3, message: /is not a regular file/ },
  {
    name: 'malformed JSON Lines line',
    setup: (d) => writeFileSync(join(d, 'bad.jsonl'), '{"text": "fine"}\n{"text": "oops"\n'),
    args: (o, d) => ['extract', join(d, 'bad.jsonl'), '-o', o, '--model', TINY_EN],
    code: 3,
    message: /bad\.jsonl:2: invalid JSON/,
  },
  {
    name: 'missing text field',
    setup: (d) => writeFileSync(join(d, 'f.jsonl'), '{"text": "fine"}\n{"body": "x"}\n'),
    args: (o, d) => ['extract', join(d, 'f.jsonl'), '-o', o, '--model', TINY_EN],
    code: 3,
    message: /f\.jsonl:2: no "text" field \(fields: body\).*--text-field/,
  },
  {
    name: 'invalid UTF-8 in a text file',
    setup: (d) => writeFileSync(join(d, 'latin1.txt'), Buffer.from('ok\ncaf\xe9\n', 'latin1')),
    args: (o, d) => ['extract', join(d, 'latin1.txt'), '-o', o, '--model', TINY_EN],
    code: 3,
    message: /latin1\.txt:2: not valid UTF-8/,
  },
  { name: 'model folder that does not exist', args: (o, d) => ['extract', en, '-o', o, '--model', join(d, 'no-model')], code: 4, message: /model folder .*no-model cannot be read.*--model/ },
  {
    name: 'model folder without tokenizer.json',
    setup: (d) => editedModel(d, 'tokenizer.json', null),
    args: inModel,
    code: 4,
    message: /has no tokenizer\.json/,
  },
  {
    name: 'tokenizer.json that is not JSON',
    setup: (d) => editedModel(d, 'tokenizer.json', 'garbage\n'),
    args: inModel,
    code: 4,
    message: /tokenizer .*tokenizer\.json is not valid JSON/,
  },
  {
    name: 'tokenizer.json without a model',
    setup: (d) => editedModel(d, 'tokenizer.json', '{}'),
    args: inModel,
    code: 4,
    message: /tokenizer .*tokenizer\.json cannot be loaded/,
  },
  { name: 'missing dtype file', args: (o) => ['extract', en, '-o', o, '--model', TINY_EN, '--dtype', 'q8'], code: 4, message: /no onnx\/model_quantized\.onnx for --dtype q8 \(dtypes present: fp32\).*use --dtype fp32/ },
  {
    name: 'graph without last_hidden_state',
    setup: (d) => void buildModelFolder(join(d, 'renamed'), { ...TINY_EN_SPEC, outputName: 'output_0' }),
    args: (o, d) => ['extract', en, '-o', o, '--model', join(d, 'renamed')],
    code: 4,
    message: /has no last_hidden_state output \(outputs: output_0 \[batch_size, sequence_length, 64\]\)/,
  },
  {
    name: 'corrupt ONNX file',
    setup: (d) => editedModel(d, 'onnx/model.onnx', 'not a protobuf'),
    args: inModel,
    code: 4,
    message: /onnxruntime cannot load .*model\.onnx/,
  },
  { name: 'output folder that does not exist', args: (_, d) => ['extract', en, '-o', join(d, 'missing', 'out.npz'), '--model', TINY_EN], code: 6, message: /-o .*missing\/out\.npz: cannot write there/ },
  { name: 'output path is a folder', setup: (d) => mkdirSync(join(d, 'x.npz')), args: (_, d) => ['extract', en, '-o', join(d, 'x.npz'), '--model', TINY_EN], code: 6, message: /it is a directory/ },
  { name: 'unknown output extension', args: (_, d) => ['extract', en, '-o', join(d, 'out.csv'), '--model', TINY_EN], code: 2, message: /out\.csv: unknown output format/ },
  { name: 'bad flag value', args: (o) => ['extract', en, '-o', o, '--batch-size', 'lots'], code: 2, message: /--batch-size must be a positive integer, got "lots"/ },
  { name: '--max-length past the position table', args: (o) => ['extract', en, '-o', o, '--model', TINY_EN, '--max-length', '4096'], code: 2, message: /--max-length 4096 exceeds the model's 128 positions/ },
  { name: 'offline with an uncached hub id', args: (o) => ['extract', en, '-o', o, '--model', 'someone/albert-nowhere', '--offline'], code: 4, message: /someone\/albert-nowhere .*is not in the cache .*offline.*local folder/ },
];

describe.each(cases)('$name', ({ args, setup, input, code, message }) => {
  it(`exits ${code} with one clear line and no output file`, async () => {
    const dir = tempDir();
    setup?.(dir);
    const out = join(dir, 'out.npz');
    const before = readdirSync(dir);
    const r = await runCli(args(out, dir), { input });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.startsWith('albert-embed: ')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(before.sort());
  });
});

describe('--device cuda', () => {
  const providerInstalled = existsSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));
  it(providerInstalled ? 'runs where the CUDA provider is installed' : 'fails with exit 5 and says what to install', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.npy');
    const r = await runCli(['extract', en, '-o', out, '--model', TINY_EN, '--device', 'cuda']);
    if (providerInstalled) {
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/--device cuda: the CUDA execution provider cannot be loaded/);
    expect(r.stderr).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(r.stderr).toMatch(/CUDA 13 runtime and cuDNN 9/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('--verbose', () => {
  it('adds the stack trace', async () => {
    const r = await runCli(['extract', 'nope.txt', '-o', '-', '--model', TINY_EN, '--verbose']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('interrupt', () => {
  it('SIGINT mid-run exits 130 and leaves no output, temp or scratch file', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.npz');
    const child = spawn(process.execPath, [BIN, 'extract', '-o', out, '--model', TINY_EN], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Feed records but never end stdin, so the run is certainly still going when the signal lands.
    child.stdin.write('one line\n'.repeat(5000));
    await new Promise((r) => setTimeout(r, 1500));
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(true);
    expect(readdirSync(dir).some((f) => f.endsWith('.scratch'))).toBe(true);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.kill('SIGINT');
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGINT; no output file was written/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
