// `extract --model <checkpoint>`: a local folder or hub id that has no ONNX graph but has
// checkpoint weights is converted once into the cache, keyed by the checkpoint's content, and
// the converted folder is what the embedder loads, then and on every later run. The checkpoint
// folder itself is only read.
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openCheckpointWeights } from '../checkpoint/weights.js';
import { ModelError, UsageError } from '../errors.js';
import { sha256File, sha256Text } from '../hash.js';
import { readModelConfig } from '../model/config.js';
import { DTYPE_SUFFIX } from '../model/dtypes.js';
import { lockOutput } from '../jobs/lock.js';
import { hasModelLayout } from '../model/folder.js';
import { onnxCached } from '../model/hub.js';
import { hubFileExists } from '../model/hub-files.js';
import { isLocalSpec, type ModelSettings } from '../model/model.js';
import { dtypesOnHub } from '../model/transformers.js';
import { VERSION } from '../version.js';
import { hasCheckpointWeights, TOKENIZER_EXTRAS, TOKENIZER_SOURCES, WEIGHT_FILES } from './checkpoint-folder.js';
import { convertFolder, PROVENANCE_FILE } from './convert.js';
import { checkpointCached, fetchCheckpoint } from './hub-checkpoint.js';
import { quantizeFolder } from './quantize-folder.js';
import { verifyModelFolder } from './verify.js';

export interface RunnableModel {
  /** What to load: the settings as given, or with `model` pointing at the converted folder. */
  settings: ModelSettings;
  /** The checkpoint folder the model was converted from, when it was. */
  convertedFrom?: string;
}

/** The files conversion reads, absolute, in a fixed order. */
function checkpointFiles(dir: string): string[] {
  const files = ['config.json', ...TOKENIZER_SOURCES, ...TOKENIZER_EXTRAS, ...WEIGHT_FILES.filter((f) => f.endsWith('.index.json'))]
    .map((f) => join(dir, f))
    .filter((f) => existsSync(f));
  const weights = openCheckpointWeights(dir);
  try {
    return [...new Set([...files, ...weights.files])].sort();
  } finally {
    weights.close();
  }
}

/**
 * The key of a checkpoint's converted folder: a hash of its files' contents, of the converter's
 * version and of nothing else, so an edited or replaced file converts anew and a moved folder
 * does not. Hashing a large checkpoint takes seconds, so the key is remembered under a hash of
 * the files' identities (path, inode, size, modification time).
 */
async function contentKey(dir: string, cacheDir: string): Promise<string> {
  const files = checkpointFiles(dir);
  const identity = sha256Text(
    JSON.stringify([VERSION, ...files.map((f) => {
      const s = statSync(f);
      return [realpathSync(f), s.ino, s.size, s.mtimeMs];
    })]),
  );
  const remembered = join(cacheDir, 'converted', '.by-identity', identity);
  if (existsSync(remembered)) return readFileSync(remembered, 'utf8').trim();
  const parts = [`albert-embed ${VERSION}`];
  for (const f of files) parts.push(`${f.slice(dir.length + 1)} ${await sha256File(f)}`);
  const key = sha256Text(parts.join('\n')).slice(0, 32);
  mkdirSync(join(cacheDir, 'converted', '.by-identity'), { recursive: true });
  writeFileSync(remembered, `${key}\n`);
  return key;
}

/** Where a checkpoint folder's conversion lives in the cache, and whether it is there yet. */
export async function conversionOf(checkpointDir: string, cacheDir: string): Promise<{ target: string; done: boolean }> {
  const target = join(cacheDir, 'converted', await contentKey(checkpointDir, cacheDir));
  return { target, done: existsSync(join(target, PROVENANCE_FILE)) };
}

/** A local folder that extract would convert: a checkpoint's weights and no loadable ONNX export. */
export function isCheckpointToConvert(settings: ModelSettings): boolean {
  if (!isLocalSpec(settings.model)) return false;
  const dir = resolve(settings.model);
  return Boolean(statSync(dir, { throwIfNoEntry: false })?.isDirectory()) && !hasModelLayout(dir, settings.dtype) && hasCheckpointWeights(dir);
}

async function convertOnce(checkpointDir: string, settings: ModelSettings, notice: (message: string) => void): Promise<RunnableModel> {
  if (settings.dtype !== 'fp32' && settings.dtype !== 'q8') {
    throw new ModelError(
      `${settings.model} is a checkpoint without ONNX files; converting it writes --dtype fp32 and q8 only`,
      'use --dtype fp32 or --dtype q8',
    );
  }
  const { target, done } = await conversionOf(checkpointDir, settings.hub.cacheDir);
  const needsInt8 = () => settings.dtype === 'q8' && !hasModelLayout(target, 'q8');
  if (!done || needsInt8()) {
    // The first runs of a job array start together: one converts, the others wait for it and
    // then find the work done (a second conversion would swap the folder out from under the first).
    const release = await lockConversion(target, notice);
    try {
      if (!existsSync(join(target, PROVENANCE_FILE))) {
        notice(`${settings.model} has no ONNX graph: converting it once into ${target} (later runs reuse it)`);
        // For q8 the int8 graph is made from the graph in hand, not read back from the folder.
        const quantize = settings.dtype === 'q8' ? { threads: settings.threads } : undefined;
        if (quantize) notice(`adding the int8 graph to ${target} (later runs reuse it)`);
        await convertFolder(checkpointDir, target, { force: true, verify: (folder) => verifyModelFolder(folder, settings.threads), ...(quantize ? { quantize } : {}) }, notice);
      }
      // The int8 graph is added to the cached conversion the first time it is asked for.
      if (needsInt8()) {
        notice(`adding the int8 graph to ${target} (later runs reuse it)`);
        await quantizeFolder(target, { force: true, threads: settings.threads }, notice);
      }
    } finally {
      release();
    }
  }
  return { settings: { ...settings, model: target }, convertedFrom: checkpointDir };
}

const LOCK_POLL_MS = 250;

/** The lock of a conversion in the cache; waits (saying so once) while another live run holds it. */
async function lockConversion(target: string, notice: (message: string) => void): Promise<() => void> {
  for (let told = false; ; told = true) {
    try {
      return lockOutput(target, target, 'converting into');
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      if (!told) notice(`waiting for another run that is converting into ${target}`);
      // A timer, not a busy loop: signals end the wait as they end any run.
      await new Promise((done) => setTimeout(done, LOCK_POLL_MS));
    }
  }
}

export async function runnableModel(settings: ModelSettings, notice: (message: string) => void): Promise<RunnableModel> {
  const spec = settings.model;
  if (isLocalSpec(spec)) {
    // A folder extract can load as it is, or one that is no checkpoint either (loadModel says why).
    return isCheckpointToConvert(settings) ? convertOnce(resolve(spec), settings, notice) : { settings };
  }
  const { hub } = settings;
  const readExternalData = (path: string) => readModelConfig(path).externalData;
  if (onnxCached(spec, settings.dtype, hub, readExternalData)) return { settings };
  if (checkpointCached(spec, hub)) return convertOnce(await fetchCheckpoint(spec, hub, notice), settings, notice);
  if (hub.offline) return { settings };
  // A repository with ONNX files goes through Transformers.js as before; one with none at all is
  // a checkpoint to fetch and convert.
  if (await hubFileExists(spec, `onnx/model${DTYPE_SUFFIX[settings.dtype]}.onnx`, hub)) return { settings };
  if ((await dtypesOnHub({ id: spec, dtype: settings.dtype, cacheDir: hub.cacheDir, revision: hub.revision, endpoint: hub.endpoint })).length > 0) return { settings };
  return convertOnce(await fetchCheckpoint(spec, hub, notice), settings, notice);
}
