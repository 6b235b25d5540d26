// A checkpoint on the hub that has no ONNX export: its config, tokenizer files and weights are
// fetched one by one into the cache folder of the hub id. A manifest records which files the
// repository had, so that later runs, offline ones included, know the folder is complete.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { cacheFolder, type HubSettings } from '../model/hub.js';
import { fetchHubFile } from '../model/hub-files.js';
import { TOKENIZER_EXTRAS, TOKENIZER_SOURCES, WEIGHT_FILES } from './checkpoint-folder.js';

const MANIFEST = '.albert-embed-checkpoint.json';

function shardsOf(index: string, id: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new ModelError(`${id}: the weights index ${index} is not valid JSON: ${errorMessage(err)}`, 'delete it from the cache and run again', { cause: err });
  }
  if (!map || typeof map !== 'object') throw new ModelError(`${id}: the weights index ${index} has no weight_map`, 'delete it from the cache and run again');
  return [...new Set(Object.values(map as Record<string, unknown>).filter((v): v is string => typeof v === 'string'))].sort();
}

/** The cached files of a complete earlier fetch, or undefined. */
function cachedFiles(folder: string): string[] | undefined {
  const manifest = join(folder, MANIFEST);
  if (!existsSync(manifest)) return undefined;
  try {
    const files = (JSON.parse(readFileSync(manifest, 'utf8')) as { files?: unknown }).files;
    if (Array.isArray(files) && files.every((f) => typeof f === 'string' && existsSync(join(folder, f)))) return files as string[];
  } catch {
    // A damaged manifest is refetched.
  }
  return undefined;
}

/** Whether the hub id's checkpoint files are all in the cache already. */
export function checkpointCached(id: string, settings: HubSettings): boolean {
  return cachedFiles(cacheFolder(id, settings)) !== undefined;
}

/** The cache folder holding hub checkpoint `id`'s config, tokenizer and weight files. */
export async function fetchCheckpoint(id: string, settings: HubSettings, notice: (message: string) => void): Promise<string> {
  const folder = cacheFolder(id, settings);
  if (cachedFiles(folder)) return folder;
  if (settings.offline) {
    throw new ModelError(
      `${id} is not in the cache ${settings.cacheDir}, and offline mode (--offline or HF_HUB_OFFLINE=1) forbids downloading it`,
      'run once with network access to cache it, or pass a local checkpoint folder',
    );
  }
  const files: string[] = [];
  const get = async (file: string) => {
    const path = await fetchHubFile(id, file, settings, notice);
    if (path) files.push(file);
    return path;
  };
  if (!(await get('config.json'))) {
    throw new ModelError(`${id} has no config.json at revision ${settings.revision} on ${settings.endpoint}`, 'check the hub id: convert reads Hugging Face ALBERT checkpoints such as albert/albert-base-v2');
  }
  let tokenizer = false;
  for (const file of TOKENIZER_SOURCES) {
    if (await get(file)) {
      tokenizer = true;
      break;
    }
  }
  if (!tokenizer) {
    throw new ModelError(`${id} has no tokenizer.json, spiece.model or vocab.txt at revision ${settings.revision}`, 'albert-embed needs the checkpoint\'s tokenizer files');
  }
  for (const file of TOKENIZER_EXTRAS) await get(file);
  let weights = false;
  for (const file of WEIGHT_FILES) {
    const path = await get(file);
    if (!path) continue;
    if (file.endsWith('.index.json')) for (const shard of shardsOf(path, id)) if (!(await get(shard))) throw new ModelError(`${id}: the weights index lists ${shard}, which the repository does not have`, 'the repository is incomplete; try another revision');
    weights = true;
    break;
  }
  if (!weights) {
    throw new ModelError(
      `${id} has no weights convert reads at revision ${settings.revision} (${WEIGHT_FILES.join(', ')})`,
      'TensorFlow (tf_model.h5) and Flax weights are not read; pick a repository with PyTorch or safetensors weights',
    );
  }
  writeFileSync(join(folder, MANIFEST), `${JSON.stringify({ id, revision: settings.revision, files }, null, 2)}\n`);
  return folder;
}
