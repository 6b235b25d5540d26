// The only module that imports @huggingface/transformers at run time: it builds the checkpoint's
// tokenizer class and fetches hub checkpoints through Transformers.js' hub machinery (URLs,
// HF_TOKEN, its file cache, external-data files).
import * as transformers from '@huggingface/transformers';
import type { Dtype } from './dtypes.js';

export type Tokenizer = transformers.PreTrainedTokenizer;
type TokenizerClass = new (json: unknown, config: unknown) => Tokenizer;

/** An instance of the tokenizer class tokenizer_config.json names, or the generic one. */
export function instantiateTokenizer(json: unknown, config: Record<string, unknown>): { tokenizer: Tokenizer; className: string } {
  const wanted = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : undefined;
  const candidate = wanted ? (transformers as Record<string, unknown>)[wanted] : undefined;
  if (typeof candidate === 'function' && candidate.prototype instanceof transformers.PreTrainedTokenizer) {
    return { tokenizer: new (candidate as TokenizerClass)(json, config), className: wanted! };
  }
  return { tokenizer: new (transformers.PreTrainedTokenizer as unknown as TokenizerClass)(json, config), className: 'PreTrainedTokenizer' };
}

export interface HubRequest {
  id: string;
  dtype: Dtype;
  cacheDir: string;
  revision: string;
  endpoint: string;
}

function configure(request: HubRequest): { cache_dir: string; revision: string } {
  const { env, LogLevel } = transformers;
  env.remoteHost = `${request.endpoint.replace(/\/+$/, '')}/`;
  env.cacheDir = request.cacheDir;
  env.allowRemoteModels = true;
  // Never resolve hub ids against Transformers.js' own bundled models folder.
  env.allowLocalModels = false;
  env.useFSCache = true;
  env.logLevel = LogLevel.ERROR;
  // The session AutoModel opens to fetch the graph may be onnxruntime's first, and the first
  // session fixes the native logger's level for the process: keep it to fatal lines, as ours do.
  const onnx = (env.backends as { onnx?: { logLevel?: string } }).onnx;
  if (onnx) onnx.logLevel = 'fatal';
  return { cache_dir: request.cacheDir, revision: request.revision };
}

export type FetchStage = 'config' | 'tokenizer' | 'graph';

/**
 * Downloads config.json, tokenizer.json (+ tokenizer_config.json) and the dtype's graph (+ its
 * external data) into the cache. Transformers.js exports no file-only download, so the graph is
 * fetched by loading it once with AutoModel, whose session is released at once; this happens
 * only on the first run, later runs find every file in the cache and never get here.
 * `stage` tells the caller which step failed.
 */
export async function downloadCheckpoint(request: HubRequest, notice: (message: string) => void, stage: { current: FetchStage }): Promise<void> {
  const options = configure(request);
  const announced = new Set<string>();
  const progress_callback = (p: { status: string; file?: string; total?: number }) => {
    if (p.status === 'download' && p.file && !announced.has(p.file)) {
      announced.add(p.file);
      notice(`downloading ${request.id} ${p.file}`);
    }
  };
  stage.current = 'config';
  await transformers.AutoConfig.from_pretrained(request.id, { ...options, progress_callback });
  stage.current = 'tokenizer';
  await transformers.AutoTokenizer.from_pretrained(request.id, { ...options, progress_callback });
  stage.current = 'graph';
  const model = await transformers.AutoModel.from_pretrained(request.id, { ...options, dtype: request.dtype, device: 'cpu', progress_callback });
  await model.dispose();
}

/** The dtypes the hub repository has graphs for, asked through Transformers.js' ModelRegistry. */
export async function dtypesOnHub(request: HubRequest): Promise<string[]> {
  const options = configure(request);
  try {
    return await transformers.ModelRegistry.get_available_dtypes(request.id, options);
  } catch {
    return [];
  }
}
