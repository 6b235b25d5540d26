// Finds the files of a checkpoint in a local folder laid out as on the Hugging Face hub.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { DTYPES, type Dtype, onnxCandidates } from './dtypes.js';

export interface ModelFiles {
  /** Absolute folder path. */
  dir: string;
  config: string;
  tokenizer: string;
  /** Absent in some exports; the tokenizer then uses its defaults. */
  tokenizerConfig?: string;
  /** The graph for the chosen dtype. */
  onnx: string;
  dtype: Dtype;
  /** Every dtype that has a graph file in this folder. */
  dtypesPresent: Dtype[];
}

function firstExisting(dir: string, candidates: string[]): string | undefined {
  return candidates.map((c) => join(dir, c)).find((p) => existsSync(p));
}

export function dtypesIn(dir: string): Dtype[] {
  return DTYPES.filter((d) => firstExisting(dir, onnxCandidates(d)) !== undefined);
}

/** Whether `dir` is a model folder extract can load for `dtype` as it is (no conversion needed). */
export function hasModelLayout(dir: string, dtype: Dtype): boolean {
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'tokenizer.json')) && firstExisting(dir, onnxCandidates(dtype)) !== undefined;
}

export function locateModelFiles(folder: string, dtype: Dtype): ModelFiles {
  const dir = resolve(folder);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
    if (isDir) accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new ModelError(
      `model folder ${folder} cannot be read: ${errorMessage(err)}`,
      'pass --model a folder holding config.json, tokenizer.json and onnx/model.onnx, or a hub id such as Xenova/albert-base-v2',
      { cause: err },
    );
  }
  if (!isDir) {
    throw new ModelError(`--model ${folder} is a file, not a model folder`, 'pass the folder that holds config.json and onnx/');
  }
  const required = (name: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) {
      throw new ModelError(
        `model folder ${folder} has no ${name}`,
        'a model folder holds config.json, tokenizer.json and onnx/model.onnx; a checkpoint folder holds config.json, its weights (model.safetensors or pytorch_model.bin) and spiece.model or vocab.txt',
      );
    }
    return path;
  };
  const config = required('config.json');
  const tokenizer = required('tokenizer.json');
  const dtypesPresent = dtypesIn(dir);
  const onnx = firstExisting(dir, onnxCandidates(dtype));
  if (!onnx) {
    const present = dtypesPresent.length ? dtypesPresent.join(', ') : 'none';
    throw new ModelError(
      `model folder ${folder} has no ${onnxCandidates(dtype)[0]} for --dtype ${dtype} (dtypes present: ${present})`,
      dtypesPresent.length
        ? `use --dtype ${dtypesPresent[0]}${dtype === 'q8' && dtypesPresent.includes('fp32') ? `, or add the int8 graph with: albert-embed quantize ${folder}` : ''}`
        : 'put the checkpoint\'s weights (model.safetensors or pytorch_model.bin) in the folder for albert-embed to convert, or export it with optimum-cli export onnx',
    );
  }
  return { dir, config, tokenizer, tokenizerConfig: firstExisting(dir, ['tokenizer_config.json']), onnx, dtype, dtypesPresent };
}

export function readJson(path: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ModelError(`${what} ${path} is not valid: ${errorMessage(err)}`, 'the checkpoint folder looks damaged; fetch or export it again', { cause: err });
  }
}
