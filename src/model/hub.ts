// Hub ids: a checkpoint is fetched once, through Transformers.js' hub machinery, into the cache
// folder `{cacheDir}/{id}` (`{cacheDir}/{id}/{revision}` off main), the layout of Transformers.js'
// file cache. When config.json, tokenizer.json and the dtype's graph are already there, nothing
// touches the network.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { DTYPE_SUFFIX, type Dtype } from './dtypes.js';
import { downloadCheckpoint, dtypesOnHub, type FetchStage, type HubRequest } from './transformers.js';

export interface HubSettings {
  cacheDir: string;
  offline: boolean;
  revision: string;
  endpoint: string;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function isHubId(spec: string): boolean {
  return HUB_ID.test(spec) && !spec.includes('..');
}

export function cacheFolder(id: string, settings: HubSettings): string {
  return settings.revision === 'main' ? join(settings.cacheDir, id) : join(settings.cacheDir, id, settings.revision);
}

const LOCAL_HINT = 'pass --model a local folder that holds config.json, tokenizer.json and onnx/model.onnx';

/** Files that must be cached for `dtype`, external weight files included when config.json declares them. */
function requiredFiles(folder: string, dtype: Dtype, readExternalData: (configPath: string) => unknown): string[] {
  const graph = `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
  const files = ['config.json', 'tokenizer.json', graph];
  const configPath = join(folder, 'config.json');
  if (existsSync(configPath)) {
    const flag = readExternalData(configPath);
    const base = graph.slice('onnx/'.length);
    const value = typeof flag === 'object' && flag !== null ? (flag as Record<string, unknown>)[base] ?? (flag as Record<string, unknown>)[base.replace(/\.onnx$/, '')] : flag;
    const chunks = value === true ? 1 : typeof value === 'number' ? value : 0;
    for (let i = 0; i < chunks; i++) files.push(`${graph}_data${i === 0 ? '' : `_${i}`}`);
  }
  return files;
}

function describeFailure(err: unknown, request: HubRequest, stage: FetchStage): ModelError {
  const message = errorMessage(err);
  const cause = (err as { cause?: unknown }).cause;
  if (err instanceof TypeError && /fetch failed/i.test(message)) {
    return new ModelError(`cannot reach ${request.endpoint} to fetch ${request.id}: ${errorMessage(cause ?? err)}`, `with no network, ${LOCAL_HINT}`, { cause: err });
  }
  if (/Unauthorized|Forbidden/i.test(message)) {
    return new ModelError(`${request.id}: ${message}`, 'the repository is gated or private: set HF_TOKEN to a token that may read it', { cause: err });
  }
  if (/Could not locate file/i.test(message)) {
    const what = stage === 'config' ? 'config.json' : stage === 'tokenizer' ? 'tokenizer.json' : `onnx/model${DTYPE_SUFFIX[request.dtype]}.onnx`;
    return new ModelError(`${request.id} has no ${what} at revision ${request.revision} on ${request.endpoint}`, 'check the hub id; albert-embed needs a checkpoint in the Transformers.js layout, such as Xenova/albert-base-v2', { cause: err });
  }
  return new ModelError(`${request.id}: fetching the ${stage} failed: ${message}`, LOCAL_HINT, { cause: err });
}

/** Whether config.json, tokenizer.json and the `dtype` graph of hub id `id` are all cached. */
export function onnxCached(id: string, dtype: Dtype, settings: HubSettings, readExternalData: (configPath: string) => unknown): boolean {
  const folder = cacheFolder(id, settings);
  return requiredFiles(folder, dtype, readExternalData).every((f) => existsSync(join(folder, f)));
}

/**
 * Returns the cache folder of `id` holding config.json, tokenizer.json and the `dtype` graph,
 * downloading what is missing unless offline.
 */
export async function fetchFromHub(
  id: string,
  dtype: Dtype,
  settings: HubSettings,
  notice: (message: string) => void,
  readExternalData: (configPath: string) => unknown,
): Promise<string> {
  const folder = cacheFolder(id, settings);
  const missing = () => requiredFiles(folder, dtype, readExternalData).filter((f) => !existsSync(join(folder, f)));
  const before = missing();
  if (before.length === 0) return folder;

  if (settings.offline) {
    throw new ModelError(
      `${id} (${before.join(', ')}) is not in the cache ${settings.cacheDir}, and offline mode (--offline or HF_HUB_OFFLINE=1) forbids downloading it`,
      `run once with network access to cache it, or ${LOCAL_HINT}`,
    );
  }
  const request: HubRequest = { id, dtype, cacheDir: settings.cacheDir, revision: settings.revision, endpoint: settings.endpoint };
  const stage = { current: 'config' as FetchStage };
  try {
    await downloadCheckpoint(request, notice, stage);
  } catch (err) {
    const failure = describeFailure(err, request, stage.current);
    if (stage.current === 'graph' && /has no onnx\//.test(failure.message)) {
      const present = await dtypesOnHub(request);
      throw new ModelError(
        `${id} has no onnx/model${DTYPE_SUFFIX[dtype]}.onnx for --dtype ${dtype}${present.length ? ` (dtypes present: ${present.join(', ')})` : ''}`,
        present.length ? `use --dtype ${present[0]}` : 'pick a repository with ONNX weights in onnx/, such as Xenova/albert-base-v2',
      );
    }
    throw failure;
  }
  const after = missing();
  if (after.length > 0) {
    throw new ModelError(`${id}: the download finished but ${after.join(', ')} is not in ${folder}`, 'check that --cache-dir is writable');
  }
  return folder;
}
