// int8 graphs for model folders: onnx/model_quantized.onnx (what --dtype q8 loads, the name
// Transformers.js uses) beside the fp32 graph, and quantization.json recording what was quantized
// and how far it moves the embeddings. `convert --quantize` writes both into the folder it is
// building; `quantize` adds them to an existing fp32 folder (one exported by Optimum, say) through
// a scratch copy of the folder, and moves them into place only once both graphs have loaded, run
// and been compared.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelError, OutputError, UsageError, errorMessage } from '../errors.js';
import { readOnnxModelFile } from '../graph/onnx-reader.js';
import { type OnnxModel, writeOnnxModel, type WrittenModel } from '../graph/onnx.js';
import { quantizeModel, type QuantizeReport } from '../graph/quantize.js';
import { readModelConfig } from '../model/config.js';
import { hasInt8DotProduct, int8CpuFlags } from '../model/cpu-flags.js';
import { DTYPE_SUFFIX, onnxCandidates } from '../model/dtypes.js';
import { sha256File } from '../hash.js';
import { alive } from '../jobs/debris.js';
import { readJson } from '../model/folder.js';
import { ORT_VERSION } from '../model/session.js';
import { trackTemporary } from '../output/atomic-file.js';
import { VERSION } from '../version.js';
import { DRIFT_SAMPLE } from './drift-sample.js';
import { embedSample, measureDrift, POOR_DRIFT_COSINE, type Drift } from './drift.js';

/** What quantize and convert --quantize record beside config.json; extract --dtype q8 copies it into .npz meta. */
export const QUANTIZATION_FILE = 'quantization.json';
export const QUANTIZED_GRAPH = `model${DTYPE_SUFFIX.q8}.onnx`;

/**
 * The folder's quantization record, when it describes `graphSha256` (the int8 graph being
 * loaded): another tool's int8 graph, or ours replaced since, has no record of ours. A record
 * that cannot be read is a model error, found before anything is embedded.
 */
export function readQuantizationRecord(folder: string, graphSha256: string): Record<string, unknown> | undefined {
  const path = join(folder, QUANTIZATION_FILE);
  if (!existsSync(path)) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(path, 'utf8'));
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new Error('not a JSON object');
  } catch (err) {
    throw new ModelError(`${path} is not a valid quantization record: ${errorMessage(err)}`, `write it again with: albert-embed quantize --force ${folder} (or delete it)`, { cause: err });
  }
  return (record as Record<string, unknown>).graph_sha256 === graphSha256 ? (record as Record<string, unknown>) : undefined;
}

export interface QuantizeResult {
  /** The model folder. */
  folder: string;
  /** The fp32 graph read and the int8 graph written, relative to the folder. */
  source: string;
  output: string;
  report: QuantizeReport;
  drift: Drift;
  graphBytes: number;
  externalDataBytes?: number;
  seconds: number;
}

export interface QuantizeGraphSettings {
  /** config.json's num_attention_heads: attention blocks become QAttention when it is known. */
  numHeads?: number;
  externalDataThreshold?: number;
}

/** Writes the int8 form of `model` (the fp32 graph read from `sourcePath`) to `path`. */
export function writeQuantizedGraph(path: string, model: OnnxModel, settings: QuantizeGraphSettings, sourcePath: string): { report: QuantizeReport; written: WrittenModel } {
  const { model: quantized, report } = quantizeModel(model, { numHeads: settings.numHeads });
  if (report.matmuls === 0) {
    throw new ModelError(`${sourcePath}: the fp32 graph has no MatMul with a float weight matrix to quantize`, 'quantize reads an ALBERT encoder graph such as convert or optimum-cli export onnx writes');
  }
  return { report, written: writeOnnxModel(path, quantized, { externalDataThreshold: settings.externalDataThreshold }) };
}

function describeMethod(report: QuantizeReport): string {
  const weights = report.weightType === 'int8' ? 'int8, symmetric' : 'uint8, asymmetric';
  return `dynamic: ${report.ops.join(', ')}; weights ${weights}, one scale per output channel; activations uint8, one scale per tensor, quantized at run time`;
}

/**
 * Measures the drift of `folder`'s int8 graph (its config and tokenizer in place) and writes
 * quantization.json; says on stderr, through `notice`, when the drift is poor.
 */
async function recordQuantization(
  folder: string,
  source: string,
  output: string,
  report: QuantizeReport,
  threads: number,
  notice: (message: string) => void,
  reference?: Float32Array,
): Promise<Drift> {
  const drift = await measureDrift(folder, threads, DRIFT_SAMPLE, reference);
  const graphSha256 = await sha256File(join(folder, output));
  const flags = int8CpuFlags();
  writeFileSync(
    join(folder, QUANTIZATION_FILE),
    `${JSON.stringify(
      {
        tool: 'albert-embed',
        tool_version: VERSION,
        onnxruntime_version: ORT_VERSION,
        source,
        graph: output,
        graph_sha256: graphSha256,
        method: describeMethod(report),
        quantized: {
          matmuls: report.matmuls,
          weights: report.weights,
          biases_folded: report.biasesFolded,
          kept_float: report.keptFloat,
          float_bytes: report.floatBytes,
          quantized_bytes: report.quantizedBytes,
        },
        drift: { sample: drift.sample, pooling: 'mean', min_cosine: drift.minCosine, mean_cosine: drift.meanCosine },
        cpu_flags: flags ?? null,
      },
      null,
      2,
    )}\n`,
  );
  if (drift.minCosine < POOR_DRIFT_COSINE) {
    notice(
      `warning: int8 drift is poor for this checkpoint: the lowest cosine of an int8 row to its fp32 row is ${drift.minCosine.toFixed(4)} ` +
        `(mean ${drift.meanCosine.toFixed(4)}) on the ${drift.sample}-text sample, below ${POOR_DRIFT_COSINE}; prefer --dtype fp32 where that matters`,
    );
  }
  if (flags && !hasInt8DotProduct(flags)) {
    notice('note: this CPU has no VNNI or AMX, so onnxruntime sums int8 products in 16 bits, which can saturate; the drift figures were measured on this CPU');
  }
  return drift;
}

/**
 * Adds the int8 graph to a folder being built (convert --quantize): `model` is the fp32 graph just
 * written to `source` (relative to `folder`). Not atomic: the caller moves the whole folder into place.
 */
export async function addQuantizedGraph(
  folder: string,
  source: string,
  model: OnnxModel,
  options: QuantizeGraphSettings & { threads: number },
  notice: (message: string) => void,
): Promise<Omit<QuantizeResult, 'seconds'>> {
  const output = join(dirname(source), QUANTIZED_GRAPH);
  const { report, written } = writeQuantizedGraph(join(folder, output), model, options, join(folder, source));
  declareExternalData(join(folder, 'config.json'), written.externalData !== undefined);
  const drift = await recordQuantization(folder, source, output, report, options.threads, notice);
  return { folder, source, output, report, drift, graphBytes: written.bytes, externalDataBytes: written.externalData?.bytes };
}

/** The fp32 graph of a model folder, relative to it. */
function fp32Graph(folder: string): string {
  const found = onnxCandidates('fp32').find((c) => existsSync(join(folder, c)));
  if (!found) {
    throw new ModelError(`model folder ${folder} has no fp32 graph (${onnxCandidates('fp32').join(' or ')}) to quantize`, 'quantize reads a folder that extract loads with --dtype fp32; convert a checkpoint with albert-embed convert first');
  }
  for (const file of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(folder, file))) throw new ModelError(`model folder ${folder} has no ${file}`, 'quantize measures the int8 drift by embedding text, which needs the folder\'s config.json and tokenizer.json');
  }
  return found;
}

const SCRATCH_PREFIX = '.albert-embed-quantize.';

/**
 * Scratch folders of quantize runs that died without cleaning up (SIGKILL, the OOM killer): a
 * partial int8 graph nobody will finish. Named by their process id; live runs' are left alone.
 */
function removeDeadScratch(folder: string): void {
  for (const name of readdirSync(folder)) {
    const pid = name.startsWith(SCRATCH_PREFIX) && name.endsWith('.tmp') ? Number(name.slice(SCRATCH_PREFIX.length).split('.')[0]) : NaN;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(folder, name), { recursive: true, force: true });
  }
}

/**
 * Makes config.json declare the int8 graph's external data exactly when it has some (Transformers.js
 * fetches external data only where config.json declares it); true when the file was rewritten.
 */
function declareExternalData(configPath: string, external: boolean): boolean {
  const config = readJson(configPath, 'model config');
  const js = (config['transformers.js_config'] ?? {}) as Record<string, unknown>;
  const { [QUANTIZED_GRAPH]: declared, ...others } = (js.use_external_data_format ?? {}) as Record<string, unknown>;
  if (Boolean(declared) === external) return false;
  const formats = external ? { ...others, [QUANTIZED_GRAPH]: 1 } : others;
  const edited = { ...config, 'transformers.js_config': { ...js, use_external_data_format: formats } };
  // A new file, not a write through the hard link the scratch copy holds to the folder's own.
  rmSync(configPath);
  writeFileSync(configPath, `${JSON.stringify(edited, null, 2)}\n`);
  return true;
}

/** A file of the model folder in the scratch copy: a hard link where the file system allows one. */
function mirror(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  // Linked by its real path: a hard link to a relative symbolic link would point elsewhere.
  const real = realpathSync(from);
  try {
    linkSync(real, to);
  } catch {
    copyFileSync(real, to);
  }
}

export interface QuantizeFolderOptions {
  /** Replace an existing int8 graph. */
  force: boolean;
  threads: number;
  /** Initializer bytes past which the int8 weights go to model_quantized.onnx_data (tests lower it). */
  externalDataThreshold?: number;
}

/** `albert-embed quantize <folder>`: adds onnx/model_quantized.onnx and quantization.json to an fp32 model folder. */
export async function quantizeFolder(modelFolder: string, options: QuantizeFolderOptions, notice: (message: string) => void): Promise<QuantizeResult> {
  const started = performance.now();
  const folder = resolve(modelFolder);
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ModelError(`model folder ${modelFolder} does not exist or is not a folder`, 'pass the folder that holds config.json, tokenizer.json and onnx/model.onnx');
  }
  const source = fp32Graph(folder);
  const output = join(dirname(source), QUANTIZED_GRAPH);
  // Any int8 graph --dtype q8 would load, wherever it is: ours must be the one it loads.
  const existing = onnxCandidates('q8').filter((c) => existsSync(join(folder, c)));
  if (existing.length > 0 && !options.force) {
    throw new UsageError(`model folder ${modelFolder} already has ${existing[0]}`, 'pass --force to replace it');
  }
  const sourcePath = join(folder, source);
  const model = readOnnxModelFile(sourcePath);

  removeDeadScratch(folder);
  const scratch = join(folder, `${SCRATCH_PREFIX}${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const untrack = trackTemporary(scratch);
  try {
    try {
      for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', source, `${source}_data`]) {
        if (existsSync(join(folder, file))) mirror(join(folder, file), join(scratch, file));
      }
    } catch (err) {
      throw new OutputError(`model folder ${modelFolder}: cannot create the scratch folder ${basename(scratch)} in it: ${errorMessage(err)}`, 'quantize writes into the model folder: make it writable', { cause: err });
    }
    // The fp32 rows come from the folder as it is, first: a folder that does not open (config,
    // tokenizer and graph disagree) fails before anything is made, naming it, not the scratch copy.
    const reference = await embedSample(folder, 'fp32', options.threads);
    notice(`quantizing ${sourcePath}`);
    const numHeads = readModelConfig(join(folder, 'config.json')).numHeads;
    const { report, written } = writeQuantizedGraph(join(scratch, output), model, { numHeads, externalDataThreshold: options.externalDataThreshold }, sourcePath);
    // The data file before the graph that names it, quantization.json last.
    const moved = [...(written.externalData ? [`${output}_data`] : []), output];
    if (declareExternalData(join(scratch, 'config.json'), written.externalData !== undefined)) moved.push('config.json');
    const drift = await recordQuantization(scratch, source, output, report, options.threads, notice, reference);
    try {
      for (const file of [...moved, QUANTIZATION_FILE]) renameSync(join(scratch, file), join(folder, file));
      if (!written.externalData) rmSync(join(folder, `${output}_data`), { force: true });
      // An int8 graph elsewhere would be loaded before ours (--force asked to replace it).
      for (const other of existing.filter((c) => c !== output)) for (const f of [other, `${other}_data`]) rmSync(join(folder, f), { force: true });
    } catch (err) {
      throw new OutputError(
        `model folder ${modelFolder}: cannot move ${output} into place: ${errorMessage(err)}`,
        `check that the folder is writable and that nothing (a folder, say) is in the way of ${output}`,
        { cause: err },
      );
    }
    return { folder, source, output, report, drift, graphBytes: written.bytes, externalDataBytes: written.externalData?.bytes, seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    untrack();
  }
}
