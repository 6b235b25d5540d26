// Fetches a hub checkpoint once into a local cache and returns the cached folder.
//
// The URLs (`{endpoint}/{id}/resolve/{revision}/{file}`) and the cache layout
// (`{cacheDir}/{id}/{file}`, or `{cacheDir}/{id}/{revision}/{file}` off main) are those of
// Transformers.js' FileCache, so a --cache-dir shared with Transformers.js reuses its downloads.
// Transformers.js 4.3 does not export getModelFile, which is why the fetch itself lives here.
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelError, errorMessage } from '../errors.js';
import { DTYPES, DTYPE_SUFFIX, type Dtype } from './dtypes.js';

export interface HubSettings {
  cacheDir: string;
  offline: boolean;
  revision: string;
  endpoint: string;
  token?: string;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function isHubId(spec: string): boolean {
  return HUB_ID.test(spec) && !spec.includes('..');
}

export function cacheFolder(id: string, settings: HubSettings): string {
  return settings.revision === 'main' ? join(settings.cacheDir, id) : join(settings.cacheDir, id, settings.revision);
}

const LOCAL_HINT = 'with no network, pass --model a local folder that holds config.json, tokenizer.json and onnx/model.onnx';

class Hub {
  constructor(
    private readonly id: string,
    private readonly settings: HubSettings,
    private readonly notice: (message: string) => void,
  ) {}

  private url(file: string): string {
    const base = this.settings.endpoint.replace(/\/+$/, '');
    return `${base}/${this.id}/resolve/${encodeURIComponent(this.settings.revision)}/${file}`;
  }

  private async get(url: string): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'albert-embed' };
    if (this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    try {
      return await fetch(url, { headers, redirect: 'follow' });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new ModelError(`cannot reach ${url}: ${errorMessage(cause ?? err)}`, LOCAL_HINT);
    }
  }

  /** Downloads `file` into the cache; false when the hub has no such file. */
  async download(file: string, dest: string): Promise<boolean> {
    const url = this.url(file);
    const response = await this.get(url);
    if (response.status === 404) return false;
    if (response.status === 401 || response.status === 403) {
      throw new ModelError(`${this.id}: ${url} answered ${response.status}`, 'the repository is gated or private: set HF_TOKEN to a token that may read it');
    }
    if (!response.ok || !response.body) {
      throw new ModelError(`${this.id}: ${url} answered ${response.status} ${response.statusText}`, LOCAL_HINT);
    }
    const size = Number(response.headers.get('content-length'));
    this.notice(`downloading ${this.id} ${file}${size ? ` (${(size / 1e6).toFixed(1)} MB)` : ''}`);
    mkdirSync(dirname(dest), { recursive: true });
    // Concurrent runs may fetch the same file: each writes its own part file, the rename is atomic.
    const part = `${dest}.${process.pid}.part`;
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(part));
      renameSync(part, dest);
    } catch (err) {
      rmSync(part, { force: true });
      throw new ModelError(`${this.id}: download of ${file} failed: ${errorMessage(err)}`, LOCAL_HINT);
    }
    return true;
  }

  /** Dtypes the repository has graphs for, from the hub's file listing; empty when unknown. */
  async dtypesOnHub(): Promise<Dtype[]> {
    const base = this.settings.endpoint.replace(/\/+$/, '');
    try {
      const response = await this.get(`${base}/api/models/${this.id}/revision/${encodeURIComponent(this.settings.revision)}`);
      if (!response.ok) return [];
      const info = (await response.json()) as { siblings?: Array<{ rfilename?: string }> };
      const files = new Set((info.siblings ?? []).map((s) => s.rfilename));
      return DTYPES.filter((d) => files.has(`onnx/model${DTYPE_SUFFIX[d]}.onnx`));
    } catch {
      return [];
    }
  }
}

function externalDataFiles(configPath: string, onnxFile: string, readConfig: (path: string) => { externalData?: unknown }): string[] {
  const flag = readConfig(configPath).externalData;
  const base = onnxFile.split('/').pop()!;
  const value = typeof flag === 'object' && flag !== null ? (flag as Record<string, unknown>)[base] ?? (flag as Record<string, unknown>)[base.replace(/\.onnx$/, '')] : flag;
  const chunks = value === true ? 1 : typeof value === 'number' ? value : 0;
  return Array.from({ length: chunks }, (_, i) => `${onnxFile}_data${i === 0 ? '' : `_${i}`}`);
}

/**
 * Returns the cache folder of `id` holding config.json, tokenizer.json and the `dtype` graph,
 * downloading what is missing unless offline. A fully cached checkpoint never touches the network.
 */
export async function fetchFromHub(
  id: string,
  dtype: Dtype,
  settings: HubSettings,
  notice: (message: string) => void,
  readConfig: (path: string) => { externalData?: unknown },
): Promise<string> {
  const folder = cacheFolder(id, settings);
  const onnxFile = `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
  const required = ['config.json', 'tokenizer.json', onnxFile];
  const missing = required.filter((f) => !existsSync(join(folder, f)));
  if (missing.length === 0) return folder;

  if (settings.offline) {
    throw new ModelError(
      `${id} (${missing.join(', ')}) is not in the cache ${settings.cacheDir}, and offline mode (--offline or HF_HUB_OFFLINE=1) forbids downloading it`,
      `run once with network access to cache it, or ${LOCAL_HINT.replace('with no network, ', '')}`,
    );
  }
  const hub = new Hub(id, settings, notice);
  for (const file of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(folder, file)) && !(await hub.download(file, join(folder, file)))) {
      throw new ModelError(`${id} has no ${file} at revision ${settings.revision}`, 'check the hub id; albert-embed needs a checkpoint in the Transformers.js layout (for example Xenova/albert-base-v2)');
    }
  }
  if (!existsSync(join(folder, 'tokenizer_config.json'))) await hub.download('tokenizer_config.json', join(folder, 'tokenizer_config.json'));
  if (!existsSync(join(folder, onnxFile)) && !(await hub.download(onnxFile, join(folder, onnxFile)))) {
    const present = await hub.dtypesOnHub();
    throw new ModelError(
      `${id} has no ${onnxFile} for --dtype ${dtype}${present.length ? ` (dtypes present: ${present.join(', ')})` : ''}`,
      present.length ? `use --dtype ${present[0]}` : 'pick a repository with ONNX weights in onnx/, such as Xenova/albert-base-v2',
    );
  }
  for (const data of externalDataFiles(join(folder, 'config.json'), onnxFile, readConfig)) {
    if (!existsSync(join(folder, data)) && !(await hub.download(data, join(folder, data)))) {
      throw new ModelError(`${id} declares external weights ${data}, but the hub has no such file`);
    }
  }
  return folder;
}
