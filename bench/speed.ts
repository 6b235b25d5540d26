// Speed mode: the Transformers.js pipeline and albert-embed, fp32 and int8 (--dtype q8), on the
// same texts, same threads.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbedder } from '../src/index.js';
import { rowCosines, summarizeCosines, type Drift } from '../src/convert/drift.js';
import { int8CpuFlags, type Int8CpuFlag } from '../src/model/cpu-flags.js';
import { DEFAULT_BATCH_SIZE, defaultMaxBatchTokens } from '../src/options.js';
import { planBatches } from '../src/pipeline/batching.js';
import { measureCeiling, type Ceiling } from './ceiling.js';
import { mixedCorpus } from './corpus.js';
import { inputOrderBatches, paddedFlops, paddedTokens, perTokenFlops, usefulFlops } from './flops.js';
import { ROOT, runMeasured, type Measured } from './measure.js';
import { buildBaseShaped } from './models.js';
import { profileByOp, type OpProfile } from './profile.js';

/** albert-embed runs per dtype, interleaved (fp32, q8, fp32, q8): the best is reported. */
const ROUNDS = 2;
/** Lines of the corpus the per-operator profiles run over. */
const PROFILE_LINES = 500;

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
  cpuFlags?: Record<Int8CpuFlag, boolean>;
  ceiling: Ceiling;
  ceilingMeasurements: Ceiling[];
  /** The int8 ceiling (MatMulInteger, u8 x s8) and the DynamicQuantizeMatMul figures, same shapes. */
  int8Ceiling: Ceiling;
  int8CeilingMeasurements: Ceiling[];
  int8Dynamic: Ceiling;
  albertEmbed: EngineRun;
  /** --dtype q8, its share of the int8 ceiling in ceilingShare. */
  albertEmbedQ8: EngineRun;
  /** Seconds of every albert-embed run, in order. */
  rounds: { fp32: number[]; q8: number[] };
  /** q8 texts/s over fp32 texts/s. */
  q8Speedup: number;
  /** Cosine of each q8 row to its fp32 row, over the corpus. */
  q8Drift: Drift;
  /** `albert-embed quantize` on the bench model: its time, memory and drift on the built-in sample. */
  quantize: { seconds: number; peakRssMiB: number; drift: { min_cosine: number; mean_cosine: number; sample: number } };
  /** onnxruntime's per-operator profile of each graph over the first PROFILE_LINES lines. */
  profiles: { lines: number; fp32: OpProfile; q8: OpProfile };
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
    `${name.padEnd(24)} ${fmt(r.seconds).padStart(7)} s  ${fmt(r.textsPerSecond).padStart(7)} texts/s  ${fmt(r.tokensPerSecond, 0).padStart(6)} tokens/s  ` +
      `${fmt(r.usefulGflops).padStart(6)} useful GFLOP/s (${fmt(100 * r.ceilingShare)}% of ceiling)  padding ${fmt(100 * r.paddingShare)}%  ` +
      `peak RSS ${fmt(r.peakRssMiB, 0)} MiB`,
  );
}

function printCeiling(when: string, c: Ceiling) {
  const shapes = new Map<string, string[]>();
  for (const p of c.points) shapes.set(`[M,${p.k}]x[${p.k},${p.n}]`, [...(shapes.get(`[M,${p.k}]x[${p.k},${p.n}]`) ?? []), fmt(p.medianGflops, 0)]);
  const ms = [...new Set(c.points.map((p) => p.m))].join('/');
  console.log(`${c.kind.padEnd(12)} MatMul G(FL)OP/s ${when} (M = ${ms}): ${[...shapes].map(([shape, values]) => `${shape} ${values.join('/')}`).join(', ')}`);
}

function printProfile(name: string, p: OpProfile) {
  const top = p.byOp.slice(0, 9).map(([op, sec]) => `${op} ${fmt((100 * sec) / p.kernelSeconds)}%`);
  console.log(`${name.padEnd(5)} profile (${fmt(p.seconds, 2)} s, kernels ${fmt(p.kernelSeconds, 2)} s): ${top.join(', ')}`);
}

export async function runSpeed({ work, threads, lines, baseline }: { work: string; threads: number; lines: number; baseline: boolean }): Promise<SpeedResult> {
  const { dir, built } = buildBaseShaped(work);
  const config = built.config;
  const corpusPath = join(work, `mixed-${lines}.txt`);
  const texts = mixedCorpus(lines);
  writeFileSync(corpusPath, `${texts.join('\n')}\n`);

  const embedder = await createEmbedder({ model: dir, threads });
  const ids = texts.map((t) => embedder.tokenize(t).ids);
  await embedder.close();
  const lengths = ids.map((x) => x.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const useful = usefulFlops(config, lengths);
  const cpuFlags = int8CpuFlags();
  console.log(
    `model: ALBERT-base-shaped (E${config.embedding_size} H${config.hidden_size} L${config.num_hidden_layers} FFN${config.intermediate_size}), ` +
      `${fmt(perTokenFlops(config) / 1e6)} MFLOP/token; corpus: ${lines} lines, ${tokens.toLocaleString('en-US')} tokens, longest ${Math.max(...lengths)}, ` +
      `useful work ${fmt(useful / 1e12, 2)} TFLOP`,
  );
  console.log(`CPU flags: ${cpuFlags ? Object.entries(cpuFlags).map(([f, on]) => `${f} ${on ? 'yes' : 'no'}`).join(', ') : 'unknown (no /proc/cpuinfo)'}`);

  // The int8 graph, made the way a user makes it.
  const quantizeRun = await runMeasured(BIN, ['quantize', dir, '--threads', String(threads)], 'albert-embed quantize');
  const record = JSON.parse(readFileSync(join(dir, 'quantization.json'), 'utf8')) as { drift: { min_cosine: number; mean_cosine: number; sample: number } };
  console.log(`albert-embed quantize: ${fmt(quantizeRun.seconds, 2)} s, peak RSS ${fmt(quantizeRun.peakRssMiB, 0)} MiB; ${quantizeRun.stderr.trim().split('\n').pop()}`);

  // Measured before and after albert-embed's runs: the machine's speed drifts, and the higher of
  // the two is the stricter ceiling.
  const ceilings = async () => ({
    fp32: await measureCeiling(work, config.hidden_size, config.intermediate_size, threads, 'fp32'),
    int8: await measureCeiling(work, config.hidden_size, config.intermediate_size, threads, 'int8'),
    dynamic: await measureCeiling(work, config.hidden_size, config.intermediate_size, threads, 'int8-dynamic'),
  });
  const before = await ceilings();
  const outputs = { fp32: join(work, 'speed-albert-embed.npy'), q8: join(work, 'speed-albert-embed-q8.npy') };
  const runs: Record<'fp32' | 'q8', Measured[]> = { fp32: [], q8: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const dtype of ['fp32', 'q8'] as const) {
      const run = await runMeasured(BIN, ['extract', corpusPath, '--model', dir, '--dtype', dtype, '-o', outputs[dtype], '--threads', String(threads)], `albert-embed --dtype ${dtype}`);
      console.log(`  round ${round + 1}, --dtype ${dtype}: ${fmt(run.seconds, 2)} s, peak RSS ${fmt(run.peakRssMiB, 0)} MiB`);
      runs[dtype].push(run);
    }
  }
  const after = await ceilings();
  const stricter = (a: Ceiling, b: Ceiling) => (a.gflops >= b.gflops ? a : b);
  const ceiling = stricter(before.fp32, after.fp32);
  const int8Ceiling = stricter(before.int8, after.int8);
  const int8Dynamic = stricter(before.dynamic, after.dynamic);
  for (const [when, c] of [['before', before], ['after', after]] as const) for (const k of [c.fp32, c.int8, c.dynamic]) printCeiling(when, k);
  console.log(`ceilings: fp32 ${fmt(ceiling.gflops)} GFLOP/s, int8 ${fmt(int8Ceiling.gflops)} GOP/s (DynamicQuantizeMatMul, quantizing included: ${fmt(int8Dynamic.gflops)})`);

  // Where the time goes: each graph over the batches albert-embed plans for the first lines.
  const head = ids.slice(0, PROFILE_LINES);
  const profilePlan = (dtype: 'fp32' | 'q8') => planBatches(head.map((x) => x.length), { batchSize: DEFAULT_BATCH_SIZE, maxBatchTokens: defaultMaxBatchTokens('cpu', dtype) });
  const profiles = {
    lines: head.length,
    fp32: await profileByOp(join(dir, 'onnx', 'model.onnx'), threads, head, profilePlan('fp32'), work),
    q8: await profileByOp(join(dir, 'onnx', 'model_quantized.onnx'), threads, head, profilePlan('q8'), work),
  };

  const best = (all: Measured[]) => all.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const summarized = (dtype: 'fp32' | 'q8', ceilingGflops: number) => {
    const run = best(runs[dtype]);
    const padding = run.stderr.match(/padding ([\d.]+)%/);
    if (!padding) throw new Error(`albert-embed printed no summary line:\n${run.stderr}`);
    // Peak memory is the highest of the rounds: the strict figure.
    return { ...summarize(run, lines, tokens, useful, ceilingGflops, Number(padding[1]) / 100), peakRssMiB: Math.max(...runs[dtype].map((r) => r.peakRssMiB)) };
  };
  const fp32Rows = readFloat32(outputs.fp32, true);
  const q8Rows = readFloat32(outputs.q8, true);
  const fp32Run = summarized('fp32', ceiling.gflops);
  const q8Run = summarized('q8', int8Ceiling.gflops);
  const result: SpeedResult = {
    lines,
    tokens,
    longestTokens: Math.max(...lengths),
    usefulTflop: useful / 1e12,
    cpuFlags,
    ceiling,
    ceilingMeasurements: [before.fp32, after.fp32],
    int8Ceiling,
    int8CeilingMeasurements: [before.int8, after.int8],
    int8Dynamic,
    albertEmbed: fp32Run,
    albertEmbedQ8: q8Run,
    rounds: { fp32: runs.fp32.map((r) => r.seconds), q8: runs.q8.map((r) => r.seconds) },
    q8Speedup: q8Run.textsPerSecond / fp32Run.textsPerSecond,
    q8Drift: summarizeCosines(rowCosines(fp32Rows, q8Rows, config.hidden_size)),
    quantize: { seconds: quantizeRun.seconds, peakRssMiB: quantizeRun.peakRssMiB, drift: record.drift },
    profiles,
  };
  printRun('albert-embed fp32', result.albertEmbed);
  printRun('albert-embed q8', result.albertEmbedQ8);
  console.log(
    `q8 / fp32: ${fmt(result.q8Speedup, 2)}x texts/s; cosine of q8 rows to fp32 rows: min ${result.q8Drift.minCosine.toFixed(5)}, mean ${result.q8Drift.meanCosine.toFixed(5)} ` +
      `over ${result.q8Drift.sample} rows; peak RSS q8 ${fmt(result.albertEmbedQ8.peakRssMiB, 0)} MiB vs fp32 ${fmt(result.albertEmbed.peakRssMiB, 0)} MiB`,
  );
  printProfile('fp32', profiles.fp32);
  printProfile('q8', profiles.q8);

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
    const b = readFloat32(theirs);
    if (fp32Rows.length !== b.length) throw new Error(`row counts differ: ${fp32Rows.length} vs ${b.length} floats`);
    let max = 0;
    for (let i = 0; i < fp32Rows.length; i++) max = Math.max(max, Math.abs(fp32Rows[i] - b[i]));
    result.maxAbsDiff = max;
    console.log(
      `speedup over the pipeline: fp32 ${fmt(result.speedup, 2)}x, q8 ${fmt(result.albertEmbedQ8.textsPerSecond / result.pipeline.textsPerSecond, 2)}x texts/s; ` +
        `the pipeline computed ${fmt(result.pipeline.flopsMultiple!, 2)}x the useful FLOPs; ` +
        `largest |difference| between its embeddings and fp32 albert-embed's: ${max === 0 ? '0 (bit-identical)' : max.toExponential(2)}`,
    );
  }
  return result;
}
