// Speed mode: the Transformers.js pipeline and albert-embed on the same texts, same threads.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbedder } from '../src/index.js';
import { measureCeiling, type Ceiling } from './ceiling.js';
import { mixedCorpus } from './corpus.js';
import { inputOrderBatches, paddedFlops, paddedTokens, perTokenFlops, usefulFlops } from './flops.js';
import { ROOT, runMeasured, type Measured } from './measure.js';
import { buildBaseShaped } from './models.js';

const BIN = join(ROOT, 'bin', 'albert-embed.js');
const PIPELINE = join(ROOT, 'dist', 'bench', 'transformers-pipeline.js');

export interface EngineRun {
  seconds: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  usefulGflops: number;
  ceilingShare: number;
  /** Share of computed token positions that were padding. */
  paddingShare: number;
  /** FLOPs executed / FLOPs of the real tokens. */
  flopsMultiple?: number;
  peakRssMiB: number;
}

export interface SpeedResult {
  lines: number;
  tokens: number;
  longestTokens: number;
  usefulTflop: number;
  ceiling: Ceiling;
  ceilingMeasurements: Ceiling[];
  albertEmbed: EngineRun;
  pipeline?: EngineRun & { loadSeconds: number; embedSeconds: number };
  speedup?: number;
  /** Largest |difference| between the two engines' embeddings, over all rows and dims. */
  maxAbsDiff?: number;
}

/** Raw float32 data; for a version 1.0 .npy file, what follows its preamble and header. */
function readFloat32(path: string, npy = false): Float32Array {
  const bytes = readFileSync(path);
  const skip = npy ? 10 + bytes.readUInt16LE(8) : 0;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + skip, bytes.byteOffset + bytes.length));
}

function summarize(run: Measured, lines: number, tokens: number, useful: number, ceiling: number, paddingShare: number): EngineRun {
  return {
    seconds: run.seconds,
    textsPerSecond: lines / run.seconds,
    tokensPerSecond: tokens / run.seconds,
    usefulGflops: useful / run.seconds / 1e9,
    ceilingShare: useful / run.seconds / 1e9 / ceiling,
    paddingShare,
    peakRssMiB: run.peakRssMiB,
  };
}

const fmt = (v: number, digits = 1) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function printRun(name: string, r: EngineRun) {
  console.log(
    `${name.padEnd(22)} ${fmt(r.seconds).padStart(7)} s  ${fmt(r.textsPerSecond).padStart(7)} texts/s  ${fmt(r.tokensPerSecond, 0).padStart(6)} tokens/s  ` +
      `${fmt(r.usefulGflops).padStart(6)} useful GFLOP/s (${fmt(100 * r.ceilingShare)}% of ceiling)  padding ${fmt(100 * r.paddingShare)}%  ` +
      `peak RSS ${fmt(r.peakRssMiB, 0)} MiB`,
  );
}

export async function runSpeed({ work, threads, lines, baseline }: { work: string; threads: number; lines: number; baseline: boolean }): Promise<SpeedResult> {
  const { dir, built } = buildBaseShaped(work);
  const config = built.config;
  const corpusPath = join(work, `mixed-${lines}.txt`);
  const texts = mixedCorpus(lines);
  writeFileSync(corpusPath, `${texts.join('\n')}\n`);

  const embedder = await createEmbedder({ model: dir, threads });
  const lengths = texts.map((t) => embedder.tokenize(t).ids.length);
  await embedder.close();
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const useful = usefulFlops(config, lengths);
  console.log(
    `model: ALBERT-base-shaped (E${config.embedding_size} H${config.hidden_size} L${config.num_hidden_layers} FFN${config.intermediate_size}), ` +
      `${fmt(perTokenFlops(config) / 1e6)} MFLOP/token; corpus: ${lines} lines, ${tokens.toLocaleString('en-US')} tokens, longest ${Math.max(...lengths)}, ` +
      `useful work ${fmt(useful / 1e12, 2)} TFLOP`,
  );

  // Measured before and after albert-embed's run: the machine's speed drifts, and the higher of
  // the two is the stricter ceiling.
  const before = await measureCeiling(work, config.hidden_size, config.intermediate_size, threads);
  const ours = join(work, 'speed-albert-embed.npy');
  const run = await runMeasured(BIN, ['extract', corpusPath, '--model', dir, '-o', ours, '--threads', String(threads)], 'albert-embed');
  const after = await measureCeiling(work, config.hidden_size, config.intermediate_size, threads);
  const ceiling = before.gflops >= after.gflops ? before : after;
  for (const [when, c] of [['before', before], ['after', after]] as const) {
    const shapes = new Map<string, string[]>();
    for (const p of c.points) shapes.set(`[M,${p.k}]x[${p.k},${p.n}]`, [...(shapes.get(`[M,${p.k}]x[${p.k},${p.n}]`) ?? []), fmt(p.medianGflops, 0)]);
    const ms = [...new Set(c.points.map((p) => p.m))].join('/');
    console.log(`MatMul GFLOP/s ${when} (M = ${ms}): ${[...shapes].map(([shape, values]) => `${shape} ${values.join('/')}`).join(', ')}`);
  }
  console.log(`ceiling: ${fmt(ceiling.gflops)} GFLOP/s`);
  const padding = run.stderr.match(/padding ([\d.]+)%/);
  if (!padding) throw new Error(`albert-embed printed no summary line:\n${run.stderr}`);
  const result: SpeedResult = {
    lines,
    tokens,
    longestTokens: Math.max(...lengths),
    usefulTflop: useful / 1e12,
    ceiling,
    ceilingMeasurements: [before, after],
    albertEmbed: summarize(run, lines, tokens, useful, ceiling.gflops, Number(padding[1]) / 100),
  };
  printRun('albert-embed extract', result.albertEmbed);

  if (baseline) {
    const theirs = join(work, 'speed-pipeline.f32');
    const pipe = await runMeasured(PIPELINE, [dir, corpusPath, String(threads), theirs], 'Transformers.js pipeline');
    const timing = JSON.parse(pipe.stdout) as { loadSeconds: number; embedSeconds: number };
    const batches = inputOrderBatches(lines, 32);
    result.pipeline = {
      ...summarize(pipe, lines, tokens, useful, ceiling.gflops, 1 - tokens / paddedTokens(lengths, batches)),
      flopsMultiple: paddedFlops(config, lengths, batches) / useful,
      ...timing,
    };
    printRun('Transformers.js pipeline', result.pipeline);
    result.speedup = result.albertEmbed.textsPerSecond / result.pipeline.textsPerSecond;
    const a = readFloat32(ours, true);
    const b = readFloat32(theirs);
    if (a.length !== b.length) throw new Error(`row counts differ: ${a.length} vs ${b.length} floats`);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    result.maxAbsDiff = max;
    console.log(
      `speedup: ${fmt(result.speedup, 2)}x texts/s; the pipeline computed ${fmt(result.pipeline.flopsMultiple!, 2)}x the useful FLOPs; ` +
        `largest |difference| between their embeddings: ${max === 0 ? '0 (bit-identical)' : max.toExponential(2)}`,
    );
  }
  return result;
}
