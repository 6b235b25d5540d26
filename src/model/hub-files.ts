// Single files of a hub repository, fetched into the same cache folder Transformers.js uses
// (`{cacheDir}/{id}`, `{cacheDir}/{id}/{revision}` off main) from the same URLs
// (`{endpoint}/{id}/resolve/{revision}/{file}`). Checkpoints without ONNX files are made of files
// Transformers.js has no reason to fetch (pytorch_model.bin, spiece.model, vocab.txt), so they
// come through here: streamed to a temporary file, checked against Content-Length, renamed.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelError, errorMessage } from '../errors.js';
import { cacheFolder, type HubSettings } from './hub.js';

const HUB_FILE = /^[\w.-]+(\/[\w.-]+)*$/;

function fileUrl(id: string, file: string, settings: HubSettings): string {
  const revision = encodeURIComponent(settings.revision);
  return `${settings.endpoint.replace(/\/+$/, '')}/${id}/resolve/${revision}/${file}`;
}

function authorization(): Record<string, string> {
  return process.env.HF_TOKEN ? { authorization: `Bearer ${process.env.HF_TOKEN}` } : {};
}

/** Whether hub repository `id` has `file` at the revision (a HEAD request; redirects followed). */
export async function hubFileExists(id: string, file: string, settings: HubSettings): Promise<boolean> {
  let response: Response;
  try {
    response = await fetch(fileUrl(id, file, settings), { method: 'HEAD', headers: authorization(), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new ModelError(`cannot reach ${settings.endpoint} to fetch ${id}: ${errorMessage(cause ?? err)}`, 'with no network, pass --model a local folder', { cause: err });
  }
  if (response.status === 404) return false;
  if (response.ok) return true;
  throw new ModelError(`${id} ${file}: HTTP ${response.status} from ${settings.endpoint}`, response.status === 401 || response.status === 403 ? 'the repository is gated or private: set HF_TOKEN to a token that may read it' : 'try again later, or pass a local folder');
}

/**
 * The cached path of `file` of hub repository `id`, downloading it when it is not cached yet;
 * undefined when the repository has no such file (HTTP 404). Offline, an uncached file is
 * reported as missing only if `optional`, else it is an error.
 */
export async function fetchHubFile(id: string, file: string, settings: HubSettings, notice: (message: string) => void, options: { optional?: boolean } = {}): Promise<string | undefined> {
  if (!HUB_FILE.test(file) || file.split('/').includes('..')) throw new ModelError(`${id}: refusing the file name ${JSON.stringify(file)}`, 'the repository index names a file outside the repository');
  const target = join(cacheFolder(id, settings), file);
  if (existsSync(target)) return target;
  if (settings.offline) {
    if (options.optional) return undefined;
    throw new ModelError(
      `${id} ${file} is not in the cache ${settings.cacheDir}, and offline mode (--offline or HF_HUB_OFFLINE=1) forbids downloading it`,
      'run once with network access to cache it, or pass a local checkpoint folder',
    );
  }
  const url = fileUrl(id, file, settings);
  let response: Response;
  try {
    response = await fetch(url, { headers: authorization(), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new ModelError(`cannot reach ${settings.endpoint} to fetch ${id} ${file}: ${errorMessage(cause ?? err)}`, 'with no network, pass a local checkpoint folder', { cause: err });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new ModelError(`${id} ${file}: HTTP ${response.status} from ${settings.endpoint}`, 'the repository is gated or private: set HF_TOKEN to a token that may read it');
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new ModelError(`${id} ${file}: HTTP ${response.status} ${response.statusText} from ${url}`, 'try again later, or pass a local checkpoint folder');
  }
  const expected = Number(response.headers.get('content-length') ?? NaN);
  notice(`downloading ${id} ${file}${Number.isFinite(expected) ? ` (${(expected / 2 ** 20).toFixed(1)} MiB)` : ''}`);
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  try {
    const out = createWriteStream(temp, { flags: 'wx' });
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), out);
    if (Number.isFinite(expected) && out.bytesWritten !== expected) {
      throw new Error(`got ${out.bytesWritten} bytes of ${expected}`);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new ModelError(`${id} ${file}: the download failed: ${errorMessage(err)}`, 'check the network and the free space in --cache-dir, then run again', { cause: err });
  }
  return target;
}
