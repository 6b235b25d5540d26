// `convert`: a checkpoint folder as people download it (config.json, PyTorch or safetensors
// weights, spiece.model or vocab.txt) into a model folder in the layout extract reads
// (config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json, onnx/model.onnx).
// Written into a temporary folder beside the target, checked by loading it, and renamed into
// place: an error or a signal leaves nothing behind, and the checkpoint folder is only read.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { mapAlbertWeights } from '../checkpoint/albert-keys.js';
import { openCheckpointWeights } from '../checkpoint/weights.js';
import { OutputError, UsageError, errorMessage } from '../errors.js';
import { buildAlbertGraph } from '../graph/albert.js';
import { writeOnnxModelAsync } from '../graph/onnx.js';
import { trackTemporary } from '../output/atomic-file.js';
import { VERSION } from '../version.js';
import { readCheckpointFolder } from './checkpoint-folder.js';
import { addQuantizedGraph, type QuantizeResult } from './quantize-folder.js';
import { tokenizerFiles } from './tokenizer-source.js';

export interface ConvertFolderOptions {
  /** Replace an existing output folder. */
  force: boolean;
  /** Opens the written folder as extract would, before it is moved into place. */
  verify: (folder: string) => Promise<void>;
  /** Initializer bytes past which the graph's weights go to onnx/model.onnx_data (tests lower it). */
  externalDataThreshold?: number;
  /** Also write the int8 graph and its drift (quantization.json); `threads` run the drift sample. */
  quantize?: { threads: number };
}

export interface ConvertResult {
  /** The model folder written. */
  output: string;
  /** The checkpoint folder read. */
  source: string;
  /** The weights' format: 'safetensors', 'torch zip', 'torch legacy', sharded variants. */
  weightsFormat: string;
  /** The file the tokenizer came from: tokenizer.json (copied), spiece.model or vocab.txt. */
  tokenizerSource: string;
  pooler: boolean;
  /** onnx/model.onnx and, past 2 GB of weights, onnx/model.onnx_data. */
  graphBytes: number;
  externalDataBytes?: number;
  /** With --quantize: the int8 graph, what was quantized and its drift. */
  quantized?: Omit<QuantizeResult, 'seconds'>;
  seconds: number;
}

/** What every converted folder records about its making (albert-embed-convert.json). */
export const PROVENANCE_FILE = 'albert-embed-convert.json';

function json(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Refuses outputs that would lose data: the checkpoint folder itself, a folder inside it, an existing folder without --force. */
function checkOutput(source: string, output: string, force: boolean): void {
  const inside = relative(source, output);
  if (inside.split(sep)[0] !== '..' && !isAbsolute(inside)) {
    throw new UsageError(`-o ${output} is the checkpoint folder ${source} or inside it; convert never writes into the checkpoint it reads`, 'write the model folder elsewhere, for example -o ./albert-onnx');
  }
  const existing = statSync(output, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new UsageError(`-o ${output} is a file; convert writes a model folder`, 'name a folder that does not exist yet');
  if (existing && readdirSync(output).length > 0 && !force) {
    throw new UsageError(`-o ${output} already exists and is not empty`, 'remove it, choose another -o, or pass --force to replace it');
  }
}

/** Moves the finished temporary folder onto `output`, replacing an old one only once the new one is complete. */
function moveIntoPlace(temp: string, output: string): void {
  const old = existsSync(output) ? `${temp}.old` : undefined;
  try {
    if (old) renameSync(output, old);
    renameSync(temp, output);
  } catch (err) {
    if (old && !existsSync(output)) renameSync(old, output);
    throw new OutputError(`-o ${output}: cannot move the converted model into place: ${errorMessage(err)}`, 'check that the folder beside it is writable', { cause: err });
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

export async function convertFolder(sourceFolder: string, outputFolder: string, options: ConvertFolderOptions, notice: (message: string) => void): Promise<ConvertResult> {
  const started = performance.now();
  const source = resolve(sourceFolder);
  const output = resolve(outputFolder);
  const checkpoint = readCheckpointFolder(source);
  checkOutput(source, output, options.force);
  const weights = openCheckpointWeights(source);
  let temp: string | undefined;
  let untrack = () => {};
  try {
    const mapped = mapAlbertWeights(weights, checkpoint.config, weights.files.length === 1 ? weights.files[0] : source);
    const tokenizer = tokenizerFiles(checkpoint);
    try {
      mkdirSync(dirname(output), { recursive: true });
      temp = join(dirname(output), `.${basename(output)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      mkdirSync(join(temp, 'onnx'), { recursive: true });
    } catch (err) {
      throw new OutputError(`-o ${outputFolder}: cannot create the model folder: ${errorMessage(err)}`, 'choose an output folder whose parent is writable', { cause: err });
    }
    untrack = trackTemporary(temp);
    notice(`converting ${source} (${weights.format} weights, tokenizer from ${checkpoint.tokenizerSource})`);
    const graph = buildAlbertGraph(checkpoint.config, mapped, {
      tokenTypeInput: true,
      poolerOutput: mapped.hasPooler,
      hiddenStates: true,
      producerName: 'albert-embed convert',
      producerVersion: VERSION,
    });
    const written = await writeOnnxModelAsync(join(temp, 'onnx', 'model.onnx'), graph, { externalDataThreshold: options.externalDataThreshold });
    const config: Record<string, unknown> = { ...checkpoint.rawConfig, model_type: 'albert', architectures: ['AlbertModel'] };
    // Transformers.js fetches onnx/model.onnx_data only when config.json says it exists (the
    // int8 graph's is declared when that graph is written).
    if (written.externalData) config['transformers.js_config'] = { ...(config['transformers.js_config'] as object), use_external_data_format: { 'model.onnx': 1 } };
    json(join(temp, 'config.json'), config);
    json(join(temp, 'tokenizer.json'), tokenizer.tokenizer);
    json(join(temp, 'tokenizer_config.json'), tokenizer.tokenizerConfig);
    json(join(temp, 'special_tokens_map.json'), tokenizer.specialTokensMap);
    json(join(temp, PROVENANCE_FILE), {
      tool: 'albert-embed',
      tool_version: VERSION,
      source,
      weights: weights.files.map((f) => relative(source, f)),
      weights_format: weights.format,
      weights_prefix: mapped.prefix,
      tokenizer_source: checkpoint.tokenizerSource,
      outputs: graph.graph.outputs.map((o) => o.name),
    });
    let quantized: ConvertResult['quantized'];
    if (options.quantize) {
      notice('quantizing the graph to int8 and measuring its drift');
      quantized = await addQuantizedGraph(temp, 'onnx/model.onnx', graph, { threads: options.quantize.threads, numHeads: checkpoint.config.num_attention_heads, externalDataThreshold: options.externalDataThreshold }, notice);
    }
    // The drift measurement has opened and run the fp32 graph as extract does: a second load to
    // check it would only repeat that.
    if (!quantized) await options.verify(temp);
    moveIntoPlace(temp, output);
    untrack();
    return {
      output,
      source,
      weightsFormat: weights.format,
      tokenizerSource: checkpoint.tokenizerSource,
      pooler: mapped.hasPooler,
      graphBytes: written.bytes,
      externalDataBytes: written.externalData?.bytes,
      ...(quantized ? { quantized } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    if (temp) rmSync(temp, { recursive: true, force: true });
    untrack();
    throw err;
  } finally {
    weights.close();
  }
}
