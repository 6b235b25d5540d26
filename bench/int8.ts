// Int8 mode: the measurements behind albert-embed's int8 graph (`quantize`, --dtype q8), on the
// ALBERT-base-shaped model.
// - graph variants: which ops and which MatMuls to quantize, timed on the same batches;
// - onnxruntime's x64 precision mode (u8s8 -> u8u8 weights for CPUs without VNNI);
// - the fusions onnxruntime applies to the int8 graph;
// - batch budgets for int8 (end to end), and threads.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createEmbedder } from '../src/index.js';
import { cosine, summarizeCosines } from '../src/convert/drift.js';
import { errorMessage } from '../src/errors.js';
import { countNodeTypes, readOnnxModelFile } from '../src/graph/onnx-reader.js';
import { type OnnxModel, writeOnnxModel } from '../src/graph/onnx.js';
import { quantizeModel, type QuantizeGraphOptions } from '../src/graph/quantize.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS } from '../src/options.js';
import { planBatches } from '../src/pipeline/batching.js';
import { mixedCorpus } from './corpus.js';
import { measureCeiling } from './ceiling.js';
import { runPlan, SESSION_DEFAULTS, timed } from './engine.js';
import { ROOT, runMeasured, type Measured } from './measure.js';
import { asMatMulInteger, asMatMulNBits, quantizeActivationMatMuls } from './int8-variants.js';
import { buildBaseShaped } from './models.js';
import { uniform } from '../tools/fixture-builder/weights.js';

const ROUNDS = 3;
const BIN = join(ROOT, 'bin', 'albert-embed.js');
const spinningOff = { session: { intra_op: { allow_spinning: '0' } } };

interface Timing {
  name: string;
  wall: number;
  cpu: number;
}

/**
 * The same batches through each session, interleaved batch by batch in an order shuffled every
 * step, so that load from other processes falls on all alike and no session always follows the
 * same one (a slow neighbour measurably changed the next one's time); each figure is the sum over
 * batches of each batch's fastest round (other processes only add time), wall clock and process
 * CPU time.
 */
async function compare(sessions: Array<{ name: string; session: ort.InferenceSession }>, ids: Int32Array[], plan: number[][], rounds = ROUNDS): Promise<Timing[]> {
  const wall = sessions.map(() => plan.map(() => [] as number[]));
  const cpu = sessions.map(() => plan.map(() => [] as number[]));
  const random = uniform(5);
  for (const { session } of sessions) await runPlan(session, ids, plan.slice(0, 2), ['last_hidden_state']);
  for (let round = 0; round < rounds; round++) {
    for (const [b, batch] of plan.entries()) {
      const order = sessions.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (const v of order) {
        const start = process.cpuUsage();
        wall[v][b].push(await timed(() => runPlan(sessions[v].session, ids, [batch], ['last_hidden_state'])));
        const used = process.cpuUsage(start);
        cpu[v][b].push((used.user + used.system) / 1e6);
      }
    }
  }
  const best = (all: number[][]) => all.reduce((sum, t) => sum + Math.min(...t), 0);
  return sessions.map(({ name }, v) => ({ name, wall: best(wall[v]), cpu: best(cpu[v]) }));
}

function printTimings(timings: Timing[], reference: Timing): void {
  for (const t of timings) {
    console.log(
      `  ${t.name.padEnd(62)} wall ${t.wall.toFixed(2)} s (x${(reference.wall / t.wall).toFixed(2)} of fp32), CPU ${t.cpu.toFixed(2)} s (x${(reference.cpu / t.cpu).toFixed(2)})`,
    );
  }
}

export async function runInt8({ work, threads }: { work: string; threads: number }) {
  const { dir, built } = buildBaseShaped(work);
  const source = join(dir, 'onnx', 'model.onnx');
  const model = readOnnxModelFile(source);
  const numHeads = built.config.num_attention_heads;
  const write = (file: string, m: OnnxModel) => {
    const path = join(dir, 'onnx', file);
    writeOnnxModel(path, m);
    return path;
  };
  const quantized = (options: QuantizeGraphOptions) => quantizeModel(model, options).model;
  const q8 = write('model_quantized.onnx', quantized({ numHeads }));
  const dqmmOnly = quantized({});
  const variants: Array<{ name: string; path: string; spinning?: boolean }> = [
    { name: 'fp32', path: source },
    { name: 'albert-embed q8: QAttention + DynamicQuantizeMatMul, s8 weights', path: q8 },
    { name: 'the same file again, a second session (the noise floor)', path: q8 },
    { name: 'DynamicQuantizeMatMul for every weight MatMul (no QAttention)', path: write('dqmm.onnx', dqmmOnly) },
    { name: '  the same, biases not folded (MatMul then Add)', path: write('dqmm-unfolded.onnx', quantized({ foldBias: false })) },
    { name: '  the same as ORT quantize_dynamic writes it (MatMulInteger)', path: write('matmulinteger.onnx', asMatMulInteger(dqmmOnly)) },
    { name: '  the same, attention score/context MatMuls int8 too', path: write('attention-int8.onnx', quantizeActivationMatMuls(dqmmOnly)) },
    { name: 'q8 with u8 weights (asymmetric, u8u8 kernels)', path: write('u8-weights.onnx', quantized({ numHeads, weightType: 'uint8' })) },
    {
      name: 'q8 with the embedding projection left in float',
      path: write('embedding-float.onnx', quantized({ numHeads, keepFloat: (_, w) => w.dims[0] === built.config.embedding_size })),
    },
    { name: 'MatMulNBits, 8 bits, blocks of 128, accuracy_level 4', path: write('matmulnbits.onnx', asMatMulNBits(model)) },
    { name: 'q8 with idle threads spinning (onnxruntime\'s default)', path: q8, spinning: true },
  ];

  // What onnxruntime makes of each int8 graph: node counts after its optimizations.
  const fusions: Record<string, Record<string, number>> = {};
  console.log('node counts after onnxruntime\'s optimizations (level all):');
  for (const v of variants.filter((x, i) => !x.spinning && variants.findIndex((y) => y.path === x.path) === i)) {
    const optimized = join(work, 'int8-optimized.onnx');
    await (await ort.InferenceSession.create(v.path, { ...SESSION_DEFAULTS, intraOpNumThreads: threads, optimizedModelFilePath: optimized })).release();
    fusions[v.name] = countNodeTypes(readFileSync(optimized));
    const interesting = Object.entries(fusions[v.name]).filter(([op]) => /MatMul|Attention|Quantize|Integer|Gelu|Cast/.test(op));
    console.log(`  ${v.name.padEnd(62)} ${interesting.map(([op, n]) => `${op.replace('com.microsoft:', '')} ${n}`).join(', ')}`);
  }

  // The integer kernels by signedness: MatMulInteger on the feed-forward shapes at M = 512.
  const { hidden_size: H, intermediate_size: F } = built.config;
  const kernels: Record<string, number> = {};
  for (const kind of ['int8', 'int8-u8u8', 'int8-s8s8'] as const) {
    const c = await measureCeiling(join(work, 'int8-kernels'), H, F, threads, kind, [512]);
    kernels[kind] = c.gflops;
  }
  console.log(`MatMulInteger GOP/s (best of the three encoder shapes, M = 512): u8 x s8 ${kernels.int8.toFixed(0)}, u8 x u8 ${kernels['int8-u8u8'].toFixed(0)}, s8 x s8 ${kernels['int8-s8s8'].toFixed(0)}`);

  // onnxruntime's remedy for u8s8 saturation on CPUs without VNNI: convert s8 weights to u8 at load.
  let precisionMode: { loads: boolean; error?: string; timing?: Timing };
  try {
    await (await ort.InferenceSession.create(q8, { ...SESSION_DEFAULTS, logSeverityLevel: 4, intraOpNumThreads: threads, extra: { session: { x64quantprecision: '1' } } })).release();
    precisionMode = { loads: true };
  } catch (err) {
    precisionMode = { loads: false, error: errorMessage(err).split('\n')[0] };
  }
  console.log(`session.x64quantprecision = 1 on the q8 graph: ${precisionMode.loads ? 'loads' : `fails to load: ${precisionMode.error}`}`);

  // A q8 row depends a little on its batch: activations are quantized with one scale per tensor.
  const alone = mixedCorpus(40, 17);
  const q8Embedder = await createEmbedder({ model: dir, dtype: 'q8', threads });
  const together = (await q8Embedder.embed(alone)).embeddings;
  const single: Float32Array[] = [];
  for (const text of alone) single.push((await q8Embedder.embed([text])).embeddings[0]);
  await q8Embedder.close();
  const batchInvariance = summarizeCosines(together.map((row, i) => cosine(row, single[i])));
  console.log(`q8 rows embedded in one batch of 40 vs each alone: cosine min ${batchInvariance.minCosine.toFixed(6)}, mean ${batchInvariance.meanCosine.toFixed(6)}`);

  // The batches albert-embed plans for 200 mixed lines.
  const embedder = await createEmbedder({ model: dir, threads: 1 });
  const tokenize = (texts: string[]) => texts.map((t) => embedder.tokenize(t).ids);
  const ids = tokenize(mixedCorpus(200, 13));
  await embedder.close();
  const plan = planBatches(ids.map((x) => x.length), { batchSize: DEFAULT_BATCH_SIZE, maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS.cpu });
  const open = (path: string, intraOpNumThreads = threads, spinning = false) =>
    ort.InferenceSession.create(path, { ...SESSION_DEFAULTS, intraOpNumThreads, extra: spinning ? { session: { intra_op: { allow_spinning: '1' } } } : spinningOff });

  const sessions = [];
  for (const v of variants) sessions.push({ name: v.name, session: await open(v.path, threads, v.spinning) });
  const variantTimes = await compare(sessions, ids, plan);
  await Promise.all(sessions.map((s) => s.session.release()));
  console.log(`graph variants (200 lines, ${plan.length} batches, ${threads} threads, ${ROUNDS} rounds interleaved batch by batch; sums of per-batch best):`);
  printTimings(variantTimes, variantTimes[0]);

  // Threads: the int8 and fp32 graphs at 1 thread and at `threads`.
  const threadSessions = [
    { name: `fp32, ${threads} threads`, session: await open(source) },
    { name: 'fp32, 1 thread', session: await open(source, 1) },
    { name: `q8, ${threads} threads`, session: await open(q8) },
    { name: 'q8, 1 thread', session: await open(q8, 1) },
  ];
  const threadTimes = await compare(threadSessions, ids, plan, 2);
  await Promise.all(threadSessions.map((s) => s.session.release()));
  console.log('threads (same batches, 2 rounds):');
  printTimings(threadTimes, threadTimes[0]);

  // Batch budgets for the int8 graph, end to end as users run it: `extract --dtype q8` on the
  // speed corpus (2,000 mixed lines) at each --max-batch-tokens, alternated, best of 2 rounds,
  // with peak RSS. (In-process timings of bare plans disagreed run to run by up to 25% here;
  // the whole command is what the default decides.)
  const corpusPath = join(work, 'mixed-2000.txt');
  writeFileSync(corpusPath, `${mixedCorpus(2000).join('\n')}\n`);
  const grid = [256, 512, 1024, 2048];
  const budgetRuns = grid.map(() => [] as Measured[]);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < grid.length; i++) {
      const g = (i + round) % grid.length;
      const args = ['extract', corpusPath, '--model', dir, '--dtype', 'q8', '--max-batch-tokens', String(grid[g]), '-o', join(work, 'int8-budget.npy'), '--threads', String(threads), '--no-journal'];
      budgetRuns[g].push(await runMeasured(BIN, args, `albert-embed --dtype q8 --max-batch-tokens ${grid[g]}`));
    }
  }
  console.log(`q8 batch budgets, extract --dtype q8 on 2,000 mixed lines (best of 2 alternated rounds; peak RSS the higher):`);
  const budgets = grid.map((maxBatchTokens, g) => {
    const seconds = budgetRuns[g].map((r) => r.seconds);
    const result = { maxBatchTokens, seconds: Math.min(...seconds), all: seconds, peakRssMiB: Math.max(...budgetRuns[g].map((r) => r.peakRssMiB)) };
    console.log(`  --max-batch-tokens ${String(maxBatchTokens).padStart(4)}: ${result.seconds.toFixed(2)} s (${seconds.map((t) => t.toFixed(2)).join(', ')}), peak RSS ${result.peakRssMiB.toFixed(0)} MiB`);
    return result;
  });
  return { fusions, kernels, precisionMode, batchInvariance, variants: { batches: plan.length, rounds: ROUNDS, times: variantTimes }, threads: threadTimes, budgets };
}
