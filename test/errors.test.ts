// Bad input of many kinds: a documented exit code, one clear line on stderr naming the file,
// line or flag, no stack trace, and nothing left under the output name (nor temp files beside
// it). Run in-process through main(argv, io); test/signals.test.ts covers the launcher.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { buildModelFolder, TINY_EN as TINY_EN_SPEC } from '../tools/fixture-builder/build.js';
import { patchInitializer } from './onnx-patch.js';
import { ROOT, runMain, tempDir, TEXTS, TINY_EN } from './helpers.js';

const en = join(TEXTS, 'en.txt');

interface Case {
  name: string;
  args: (out: string, dir: string) => string[];
  setup?: (dir: string) => void;
  input?: string;
  code: number;
  message: RegExp;
  hint?: RegExp;
}

/** A copy of the English fixture in `dir`/model (made once) with `file` replaced by `content`, or removed (null). */
const editedModel = (dir: string, file: string, content: string | null | ((old: string) => string)) => {
  const copy = join(dir, 'model');
  if (!existsSync(copy)) cpSync(TINY_EN, copy, { recursive: true });
  if (content === null) rmSync(join(copy, file));
  else writeFileSync(join(copy, file), typeof content === 'function' ? content(readFileSync(join(copy, file), 'utf8')) : content);
};
const editJson = (dir: string, file: string, edit: (json: Record<string, unknown>) => void) =>
  editedModel(dir, file, (old) => {
    const json = JSON.parse(old);
    edit(json);
    return JSON.stringify(json);
  });
const inModel = (o: string, d: string) => ['extract', en, '-o', o, '--model', join(d, 'model')];

// The English fixture's id for "dog" (tokenizer.json: "▁dog").
const tokenizerJson = JSON.parse(readFileSync(join(TINY_EN, 'tokenizer.json'), 'utf8'));
const DOG = tokenizerJson.model.vocab.findIndex(([piece]: [string]) => piece === '▁dog');

const cases: Case[] = [
  // usage (2)
  { name: 'unknown output extension', args: (_, d) => ['extract', en, '-o', join(d, 'out.csv'), '--model', TINY_EN], code: 2, message: /out\.csv: unknown output format/ },
  { name: 'bad flag value', args: (o) => ['extract', en, '-o', o, '--batch-size', 'lots'], code: 2, message: /--batch-size must be a positive integer, got "lots"/ },
  { name: '--threads beyond the machine', args: (o) => ['extract', en, '-o', o, '--threads', '10000'], code: 2, message: /--threads 10000 exceeds the \d+ logical CPUs/, hint: /use --threads \d+ or less/ },
  {
    name: '--max-batch-tokens beyond what memory holds',
    args: (o) => ['extract', en, '-o', o, '--model', TINY_EN, '--max-batch-tokens', '999999999'],
    code: 2,
    message: /--max-batch-tokens 999999999 exceeds [\d,]+, the tokens one forward pass of this model \(hidden 64, 4 heads, max length 128\) can hold in half of this machine's [\d.]+ GiB/,
  },
  { name: '--max-length past the position table', args: (o) => ['extract', en, '-o', o, '--model', TINY_EN, '--max-length', '4096'], code: 2, message: /--max-length 4096 exceeds the model's 128 positions/ },
  { name: 'output path with a trailing slash', args: (_, d) => ['extract', en, '-o', `${join(d, 'out.npz')}/`, '--model', TINY_EN], code: 2, message: /out\.npz\/ ends in a path separator/ },
  // input (3)
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
    message: /f\.jsonl:2: no "text" field \(fields: body\)/,
    hint: /--text-field/,
  },
  {
    name: 'an id that is not a finite number',
    setup: (d) => writeFileSync(join(d, 'ids.jsonl'), '{"id": 1, "text": "fine"}\n{"id": -1e999, "text": "x"}\n'),
    args: (o, d) => ['extract', join(d, 'ids.jsonl'), '--id-field', 'id', '-o', o, '--model', TINY_EN],
    code: 3,
    message: /ids\.jsonl:2: field "id" is -1e999, which is not a finite number/,
  },
  {
    name: 'an id that is an object',
    setup: (d) => writeFileSync(join(d, 'ids.jsonl'), '{"id": {"a": 1}, "text": "x"}\n'),
    args: (o, d) => ['extract', join(d, 'ids.jsonl'), '--id-field', 'id', '-o', o, '--model', TINY_EN],
    code: 3,
    message: /ids\.jsonl:1: field "id" is an object; ids must be strings or numbers/,
  },
  {
    name: 'invalid UTF-8 in a text file',
    setup: (d) => writeFileSync(join(d, 'latin1.txt'), Buffer.from('ok\ncaf\xe9\n', 'latin1')),
    args: (o, d) => ['extract', join(d, 'latin1.txt'), '-o', o, '--model', TINY_EN],
    code: 3,
    message: /latin1\.txt:2: not valid UTF-8/,
  },
  // model (4)
  { name: 'model folder that does not exist', args: (o, d) => ['extract', en, '-o', o, '--model', join(d, 'no-model')], code: 4, message: /model folder .*no-model cannot be read/, hint: /--model/ },
  { name: 'model folder without tokenizer.json', setup: (d) => editedModel(d, 'tokenizer.json', null), args: inModel, code: 4, message: /has no tokenizer\.json/ },
  { name: 'tokenizer.json that is not JSON', setup: (d) => editedModel(d, 'tokenizer.json', 'garbage\n'), args: inModel, code: 4, message: /tokenizer .*tokenizer\.json is not valid JSON/ },
  { name: 'tokenizer.json without a model', setup: (d) => editedModel(d, 'tokenizer.json', '{}'), args: inModel, code: 4, message: /tokenizer .*tokenizer\.json cannot be loaded/ },
  {
    name: 'tokenizer.json without a post-processor',
    setup: (d) => editJson(d, 'tokenizer.json', (t) => void (t.post_processor = null)),
    args: inModel,
    code: 4,
    message: /tokenizer .*tokenizer\.json adds no special tokens around a text, but ALBERT expects \[CLS\] text \[SEP\]/,
  },
  {
    name: 'tokenizer.json adding other specials than tokenizer_config.json names',
    setup: (d) => editJson(d, 'tokenizer_config.json', (t) => void (t.cls_token = '[MASK]')),
    args: inModel,
    code: 4,
    message: /puts id 2 first around a text, but tokenizer_config\.json's cls_token \[MASK\] is id 4/,
  },
  {
    name: 'tokenizer that produces ids past the embedding table',
    setup: (d) => editJson(d, 'config.json', (c) => void (c.vocab_size = 600)),
    args: inModel,
    code: 4,
    message: /can produce token id 651, but config\.json's vocab_size is 600/,
  },
  {
    name: 'config.json without max_position_embeddings',
    setup: (d) => editJson(d, 'config.json', (c) => void delete c.max_position_embeddings),
    args: inModel,
    code: 4,
    message: /model config .*config\.json has no max_position_embeddings/,
  },
  {
    name: 'config.json hidden_size that is not the graph width',
    setup: (d) => editJson(d, 'config.json', (c) => void (c.hidden_size = 65)),
    args: inModel,
    code: 4,
    message: /graph .*model\.onnx outputs last_hidden_state rows of 64 values, but config\.json's hidden_size is 65/,
  },
  {
    name: 'config.json promising more positions than the graph has',
    setup: (d) => editJson(d, 'config.json', (c) => void (c.max_position_embeddings = 512)),
    args: inModel,
    code: 4,
    message: /graph .*model\.onnx fails on 512 tokens of token id 651 \(the largest the tokenizer produces\): .*128 by 512/,
  },
  {
    name: 'a tokenizer with an added token past the graph\'s embedding rows',
    setup: (d) => {
      editJson(d, 'config.json', (c) => void (c.vocab_size = 700));
      editJson(d, 'tokenizer.json', (t) => void (t.added_tokens as unknown[]).push({ id: 690, content: '<extra>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    },
    args: inModel,
    code: 4,
    message: /graph .*model\.onnx fails on \d+ tokens of token id 690 .*Gather/,
  },
  { name: 'missing dtype file', args: (o) => ['extract', en, '-o', o, '--model', TINY_EN, '--dtype', 'q8'], code: 4, message: /no onnx\/model_quantized\.onnx for --dtype q8 \(dtypes present: fp32\)/, hint: /use --dtype fp32/ },
  {
    name: 'graph without last_hidden_state',
    setup: (d) => void buildModelFolder(join(d, 'renamed'), { ...TINY_EN_SPEC, outputName: 'output_0' }),
    args: (o, d) => ['extract', en, '-o', o, '--model', join(d, 'renamed')],
    code: 4,
    message: /has no last_hidden_state output \(outputs: output_0 \[batch_size, sequence_length, 64\]\)/,
  },
  { name: 'corrupt ONNX file', setup: (d) => editedModel(d, 'onnx/model.onnx', 'not a protobuf'), args: inModel, code: 4, message: /onnxruntime cannot load .*model\.onnx/ },
  { name: 'offline with an uncached hub id', args: (o) => ['extract', en, '-o', o, '--model', 'someone/albert-nowhere', '--offline'], code: 4, message: /someone\/albert-nowhere .*is not in the cache .*offline/, hint: /local folder/ },
  // output (6), checked before the model loads: the model here does not even exist.
  { name: 'output folder that does not exist', args: (_, d) => ['extract', en, '-o', join(d, 'missing', 'out.npz'), '--model', join(d, 'no-model')], code: 6, message: /-o .*missing\/out\.npz: cannot write there: ENOENT/ },
  { name: 'output path is a folder', setup: (d) => mkdirSync(join(d, 'x.npz')), args: (_, d) => ['extract', en, '-o', join(d, 'x.npz'), '--model', join(d, 'no-model')], code: 6, message: /x\.npz: cannot write there: it is a directory/ },
  // inference (7)
  {
    name: 'a row with NaN',
    setup: (d) => {
      cpSync(TINY_EN, join(d, 'model'), { recursive: true });
      const path = join(d, 'model', 'onnx', 'model.onnx');
      writeFileSync(path, patchInitializer(readFileSync(path), 'embeddings.word_embeddings.weight', (w) => w.fill(NaN, DOG * 32, DOG * 32 + 32)));
      writeFileSync(join(d, 'texts.txt'), 'the cat\nthe old dog runs\nhello\n');
    },
    args: (o, d) => ['extract', join(d, 'texts.txt'), '-o', o, '--model', join(d, 'model')],
    code: 7,
    message: /texts\.txt:2: the model produced NaN in its row \(dimension 0\)/,
  },
];

describe.each(cases)('$name', ({ args, setup, input, code, message, hint }) => {
  it(`exits ${code} with one clear line and no output file`, async () => {
    const dir = tempDir();
    setup?.(dir);
    const out = join(dir, 'out.npz');
    const before = readdirSync(dir);
    const r = await runMain(args(out, dir), { input });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    if (hint) expect(r.stderr).toMatch(new RegExp(`\\(hint: .*${hint.source}`));
    expect(r.stderr.startsWith('albert-embed: ')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before.sort());
  });
});

describe('an input that goes away while it waits its turn', () => {
  it.each([
    ['--no-journal', false],
    // A rerun must change the input, and a resume would be refused: committed windows are not kept.
    ['a journal with a window committed', true],
  ])('is an input error naming it, not an internal one, and leaves nothing (%s)', async (_what, journal) => {
    const dir = tempDir();
    const first = join(dir, 'first.txt');
    const second = join(dir, 'second.txt');
    // More than one window, so a batch finishes (and progress is reported) before second.txt is opened.
    writeFileSync(first, 'a line\n'.repeat(3000));
    writeFileSync(second, 'more\n');
    const { runExtract } = await import('../src/extract.js');
    const { resolveExtractSettings } = await import('../src/options.js');
    const settings = resolveExtractSettings({ inputs: [first, second], output: join(dir, 'out.npy'), model: TINY_EN, journal });
    const err = await runExtract(settings, { stdin: process.stdin, stdout: process.stdout, notice: () => {}, onProgress: () => rmSync(second, { force: true }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 3, message: expect.stringMatching(/^input .*second\.txt cannot be read: ENOENT/) });
    expect((err as { hint: string }).hint).not.toMatch(/--resume/);
    expect(readdirSync(dir).sort()).toEqual(['first.txt']);
  });
});

describe('the exit-code table', () => {
  it('every code but 0, 1 and 130 has a case above, and README.md lists each with the same meaning', () => {
    const covered = new Set(cases.map((c) => c.code));
    for (const code of [ExitCode.usage, ExitCode.input, ExitCode.model, ExitCode.output, ExitCode.inference]) expect(covered.has(code), `exit ${code}`).toBe(true);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Exit codes'));
    for (const code of Object.values(ExitCode)) expect(table, `README row for ${code}`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});

describe('--device cuda', () => {
  const providerInstalled = existsSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));
  it(providerInstalled ? 'runs where the CUDA provider is installed' : 'fails with exit 5 and says what to install', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.npy');
    const r = await runMain(['extract', en, '-o', out, '--model', TINY_EN, '--device', 'cuda']);
    if (providerInstalled) {
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/--device cuda: the CUDA execution provider cannot be loaded/);
    expect(r.stderr).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(r.stderr).toMatch(/CUDA 13 runtime and cuDNN 9/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('--verbose', () => {
  it('adds the stack trace and the underlying error', async () => {
    const r = await runMain(['extract', 'nope.txt', '-o', '-', '--model', TINY_EN, '--verbose']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/caused by: Error: ENOENT: no such file or directory, stat 'nope\.txt'/);
  });

  it('an internal error is exit 1 with the hint to report it', async () => {
    const { reportError } = await import('../src/cli/report.js');
    let text = '';
    const code = reportError(new TypeError('x is not a function'), { write: (t: string) => (text += t) } as never, false);
    expect(code).toBe(1);
    expect(text).toBe('albert-embed: internal error: x is not a function (hint: rerun with --verbose and report the stack trace)\n');
  });
});
