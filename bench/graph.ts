// Graph mode: what the graph writer's choices buy or cost, on the ALBERT-base-shaped model.
// - which fusions onnxruntime applies to each activation's spelling (node counts, source ->
//   optimized at level 'all');
// - hidden_states.0..12 outputs: the same batches timed on the graph with and without them,
//   fetching only last_hidden_state (and, for scale, all of them);
// - SkipLayerNormalization: the graph with one value_info entry that lets onnxruntime prove the
//   residual Adds' shapes equal (the position embeddings' [sequence_length, E], which shape
//   inference loses at Range), so that each Add + LayerNorm fuses: timed against the graph without.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createEmbedder } from '../src/index.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS } from '../src/options.js';
import { planBatches } from '../src/pipeline/batching.js';
import type { AlbertActivation } from '../src/graph/albert-config.js';
import { buildAlbertGraph, type GraphOptions } from '../src/graph/albert.js';
import { DataType, type OnnxModel, writeOnnxModel } from '../src/graph/onnx.js';
import { countNodeTypes } from '../src/graph/onnx-reader.js';
import { weightSource } from '../tools/fixture-builder/weights.js';
import { mixedCorpus } from './corpus.js';
import { median, runPlan, SESSION_DEFAULTS, timed } from './engine.js';
import { BASE_SHAPED, buildBaseShaped } from './models.js';

const ROUNDS = 5;

export async function runGraph({ work, threads }: { work: string; threads: number }) {
  const { dir, built } = buildBaseShaped(work);
  const write = (file: string, hiddenAct: AlbertActivation, options: Partial<GraphOptions>, edit = (m: OnnxModel) => m) => {
    const path = join(dir, 'onnx', file);
    writeOnnxModel(path, edit(buildAlbertGraph({ ...built.config, hidden_act: hiddenAct }, weightSource(built.weights), { ...BASE_SHAPED, ...options })));
    return path;
  };

  // Fusions.
  const fusions: Record<string, { before: Record<string, number>; after: Record<string, number> }> = {};
  for (const act of ['gelu_new', 'gelu', 'relu'] as const) {
    const source = write(`fusions-${act}.onnx`, act, {});
    const optimized = join(work, `albert-base-shaped.${act}.optimized.onnx`);
    await (await ort.InferenceSession.create(source, { ...SESSION_DEFAULTS, intraOpNumThreads: threads, optimizedModelFilePath: optimized })).release();
    fusions[act] = { before: countNodeTypes(readFileSync(source)), after: countNodeTypes(readFileSync(optimized)) };
    const { before, after } = fusions[act];
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort();
    console.log(`fusions, hidden_act ${act} (node counts, source -> optimized):`);
    for (const k of changed) console.log(`  ${k.padEnd(38)} ${String(before[k] ?? 0).padStart(4)} -> ${after[k] ?? 0}`);
  }

  // The batches albert-embed would run on 200 mixed lines.
  const texts = mixedCorpus(200, 13);
  const embedder = await createEmbedder({ model: dir, threads: 1 });
  const ids = texts.map((t) => embedder.tokenize(t).ids);
  await embedder.close();
  const plan = planBatches(ids.map((x) => x.length), { batchSize: DEFAULT_BATCH_SIZE, maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS.cpu });

  const hiddenNames = Array.from({ length: built.config.num_hidden_layers + 1 }, (_, k) => `hidden_states.${k}`);
  const variants: Array<{ name: string; path: string; fetches: string[] }> = [
    { name: 'graph without hidden_states outputs', path: write('model.onnx', 'gelu_new', {}), fetches: ['last_hidden_state'] },
    // A second session on the same file: how far two sessions of one graph differ is the noise floor.
    { name: 'the same graph again (control)', path: join(dir, 'onnx', 'model.onnx'), fetches: ['last_hidden_state'] },
    { name: 'with hidden_states.0-12, fetching last_hidden_state', path: write('hidden.onnx', 'gelu_new', { hiddenStates: true }), fetches: ['last_hidden_state'] },
    { name: 'with hidden_states.0-12, fetching all 14 outputs', path: join(dir, 'onnx', 'hidden.onnx'), fetches: ['last_hidden_state', ...hiddenNames] },
    {
      name: 'with SkipLayerNormalization (positions value_info)',
      path: write('skip-layer-norm.onnx', 'gelu_new', {}, (m) => {
        const gather = m.graph.nodes.find((n) => n.op === 'Gather' && n.inputs[0] === 'embeddings.position_embeddings.weight')!;
        return { ...m, graph: { ...m.graph, valueInfo: [{ name: gather.outputs[0], elemType: DataType.FLOAT, shape: ['sequence_length', built.config.embedding_size] }] } };
      }),
      fetches: ['last_hidden_state'],
    },
  ];
  const spinningOff = { session: { intra_op: { allow_spinning: '0' } } };
  const sessions = await Promise.all(variants.map((v) => ort.InferenceSession.create(v.path, { ...SESSION_DEFAULTS, intraOpNumThreads: threads, extra: spinningOff })));
  // Interleaved batch by batch, in an order rotated every step, so that load from other processes
  // on the machine falls on all variants alike; each batch's time is compared with the baseline's
  // time for the same batch in the same round.
  // CPU time (all threads of this process) is measured beside wall time: on a shared machine it
  // moves far less with other processes' load than wall time does.
  const times = variants.map(() => plan.map(() => [] as number[]));
  const cpuTimes = variants.map(() => plan.map(() => [] as number[]));
  for (const [v, s] of sessions.entries()) await runPlan(s, ids, plan.slice(0, 2), variants[v].fetches);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [b, batch] of plan.entries()) {
      for (let i = 0; i < sessions.length; i++) {
        const v = (i + round + b) % sessions.length;
        const cpu = process.cpuUsage();
        times[v][b].push(await timed(() => runPlan(sessions[v], ids, [batch], variants[v].fetches)));
        const used = process.cpuUsage(cpu);
        cpuTimes[v][b].push((used.user + used.system) / 1e6);
      }
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
  // Other processes only ever add time, so each batch's fastest round is its least disturbed one:
  // the sum of those minima is the figure compared; the median per-batch ratio backs it up.
  const bestOf = (all: number[][][]) => all.map((perBatch) => perBatch.reduce((sum, t) => sum + Math.min(...t), 0));
  const best = bestOf(times);
  const bestCpu = bestOf(cpuTimes);
  console.log(`hidden states and SkipLayerNormalization (200 lines, ${plan.length} batches, ${threads} threads, ${ROUNDS} rounds interleaved batch by batch):`);
  const timing = variants.map((v, i) => {
    const ratios = times[i].flatMap((t, b) => t.map((x, r) => x / times[0][b][r]));
    const result = { name: v.name, bestSeconds: best[i], ratio: best[i] / best[0], batchRatioMedian: median(ratios), bestCpuSeconds: bestCpu[i], cpuRatio: bestCpu[i] / bestCpu[0], times: times[i], cpuTimes: cpuTimes[i] };
    console.log(
      `  ${v.name.padEnd(52)} wall ${best[i].toFixed(2)} s, CPU ${bestCpu[i].toFixed(2)} s` +
        (i === 0 ? ' (sums of per-batch best)' : `  wall x${result.ratio.toFixed(3)} (median per batch x${result.batchRatioMedian.toFixed(3)}), CPU x${result.cpuRatio.toFixed(3)}`),
    );
    return result;
  });
  return { fusions, timing: { rounds: ROUNDS, batches: plan.length, variants: timing } };
}
