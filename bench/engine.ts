// Engine mode: the measurements behind albert-embed's session settings and batch defaults.
// - which fusions onnxruntime applies to an ALBERT graph (node types before and after);
// - session start-up from the source graph vs from a saved, already-optimized graph;
// - session settings (spinning, memory arena, threads) on the same batches, interleaved;
// - batch budgets (--batch-size x --max-batch-tokens): time and padding;
// - tokenization's share of a run (does overlapping it with inference pay?).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createEmbedder } from '../src/index.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS } from '../src/options.js';
import { planBatches } from '../src/pipeline/batching.js';
import { countNodeTypes } from '../src/graph/onnx-reader.js';
import { mixedCorpus } from './corpus.js';
import { paddedTokens } from './flops.js';
import { buildBaseShaped } from './models.js';

export const SESSION_DEFAULTS: ort.InferenceSession.SessionOptions = { interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 };
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function timed<T>(f: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

/** Runs every batch of `plan` over real token ids, as BatchEncoder feeds them; fetches every output unless told which. */
export async function runPlan(session: ort.InferenceSession, ids: Int32Array[], plan: number[][], fetches?: string[]): Promise<void> {
  for (const batch of plan) {
    const seq = Math.max(...batch.map((i) => ids[i].length));
    const size = batch.length * seq;
    const input = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    // Low words of little-endian int64, as BatchEncoder writes them.
    const input32 = new Int32Array(input.buffer);
    const mask32 = new Int32Array(mask.buffer);
    batch.forEach((item, b) => ids[item].forEach((id, t) => ((input32[2 * (b * seq + t)] = id), (mask32[2 * (b * seq + t)] = 1))));
    const dims = [batch.length, seq];
    const feeds = {
      input_ids: new ort.Tensor('int64', input, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(size), dims),
    };
    await (fetches ? session.run(feeds, fetches) : session.run(feeds));
  }
}

export async function runEngine({ work, threads }: { work: string; threads: number }) {
  const { dir } = buildBaseShaped(work);
  const source = join(dir, 'onnx', 'model.onnx');
  const optimized = join(work, 'albert-base-shaped.optimized.onnx');

  // Fusions.
  const before = countNodeTypes(readFileSync(source));
  await (await ort.InferenceSession.create(source, { ...SESSION_DEFAULTS, intraOpNumThreads: threads, optimizedModelFilePath: optimized })).release();
  const after = countNodeTypes(readFileSync(optimized));
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort();
  console.log(`fusions (node counts, source -> optimized at level 'all'):`);
  for (const k of changed) console.log(`  ${k.padEnd(34)} ${String(before[k] ?? 0).padStart(4)} -> ${after[k] ?? 0}`);

  // Start-up: source graph optimized at load vs a saved optimized graph loaded as is.
  const startup = { sourceSeconds: [] as number[], preoptimizedSeconds: [] as number[] };
  for (let i = 0; i < 5; i++) {
    let s: ort.InferenceSession | undefined;
    startup.sourceSeconds.push(await timed(async () => (s = await ort.InferenceSession.create(source, { ...SESSION_DEFAULTS, intraOpNumThreads: threads }))));
    await s!.release();
    startup.preoptimizedSeconds.push(await timed(async () => (s = await ort.InferenceSession.create(optimized, { ...SESSION_DEFAULTS, graphOptimizationLevel: 'disabled', intraOpNumThreads: threads }))));
    await s!.release();
  }
  console.log(
    `session start-up (${(statSync(source).size / 2 ** 20).toFixed(0)} MiB graph, median of 5): source ${(1000 * median(startup.sourceSeconds)).toFixed(0)} ms, ` +
      `pre-optimized ${(1000 * median(startup.preoptimizedSeconds)).toFixed(0)} ms`,
  );

  // The batches albert-embed would run on 300 mixed lines.
  const texts = mixedCorpus(300, 11);
  const embedder = await createEmbedder({ model: dir, threads: 1 });
  const tokenizeSeconds = await timed(async () => texts.forEach((t) => embedder.tokenize(t)));
  const ids = texts.map((t) => embedder.tokenize(t).ids);
  await embedder.close();
  const lengths = ids.map((x) => x.length);
  const plan = planBatches(lengths, { batchSize: DEFAULT_BATCH_SIZE, maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS.cpu });

  // Session settings, interleaved round by round so drift in machine speed hits all alike.
  const spinning = (on: boolean) => ({ session: { intra_op: { allow_spinning: on ? '1' : '0' } } });
  const variants: Array<[string, ort.InferenceSession.SessionOptions]> = [
    ['albert-embed (spinning off)', { intraOpNumThreads: threads, extra: spinning(false) }],
    ['spinning on (onnxruntime default)', { intraOpNumThreads: threads, extra: spinning(true) }],
    ['spinning off, no CPU memory arena', { intraOpNumThreads: threads, extra: spinning(false), enableCpuMemArena: false }],
    ['1 thread', { intraOpNumThreads: 1, extra: spinning(false) }],
  ];
  const sessions = await Promise.all(variants.map(([, o]) => ort.InferenceSession.create(source, { ...SESSION_DEFAULTS, ...o })));
  const times = variants.map(() => [] as number[]);
  for (const s of sessions) await runPlan(s, ids, plan.slice(0, 2));
  for (let round = 0; round < 3; round++) for (let v = 0; v < sessions.length; v++) times[v].push(await timed(() => runPlan(sessions[v], ids, plan)));
  await Promise.all(sessions.map((s) => s.release()));
  console.log(`session settings (300 lines, ${plan.length} batches, median of 3 interleaved rounds):`);
  const settings = variants.map(([name], v) => ({ name, seconds: median(times[v]), all: times[v] }));
  for (const s of settings) console.log(`  ${s.name.padEnd(36)} ${s.seconds.toFixed(2)} s`);

  // Batch budgets.
  const session = await ort.InferenceSession.create(source, { ...SESSION_DEFAULTS, intraOpNumThreads: threads, extra: spinning(false) });
  const grid: Array<[number, number]> = [[32, 8192], [32, 1024], [64, 1024], [128, 512], [128, 1024], [128, 2048], [256, 4096]];
  const real = lengths.reduce((a, b) => a + b, 0);
  const plans = grid.map(([batchSize, maxBatchTokens]) => planBatches(lengths, { batchSize, maxBatchTokens }));
  const budgetTimes = grid.map(() => [] as number[]);
  for (let round = 0; round < 2; round++) for (let g = 0; g < grid.length; g++) budgetTimes[g].push(await timed(() => runPlan(session, ids, plans[g])));
  console.log(`batch budgets (300 lines; best of 2 interleaved rounds, padding share):`);
  const budgets = grid.map(([batchSize, maxBatchTokens], g) => {
    const result = { batchSize, maxBatchTokens, seconds: Math.min(...budgetTimes[g]), padding: 1 - real / paddedTokens(lengths, plans[g]) };
    console.log(`  --batch-size ${String(batchSize).padStart(3)} --max-batch-tokens ${String(maxBatchTokens).padStart(4)}: ${result.seconds.toFixed(2)} s, padding ${(100 * result.padding).toFixed(1)}%`);
    return result;
  });
  const inferenceSeconds = await timed(() => runPlan(session, ids, plan));
  await session.release();
  console.log(
    `tokenization: ${(1000 * tokenizeSeconds).toFixed(0)} ms for 300 lines vs ${inferenceSeconds.toFixed(2)} s of inference ` +
      `(${((100 * tokenizeSeconds) / (tokenizeSeconds + inferenceSeconds)).toFixed(1)}% of the run: the most that overlapping could save)`,
  );
  return { fusions: { before, after }, startup, settings, budgets, tokenization: { tokenizeSeconds, inferenceSeconds } };
}
