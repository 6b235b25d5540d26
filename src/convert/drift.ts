// How far a folder's int8 graph moves embeddings: the drift sample embedded through the
// project's own embedder with --dtype fp32 and --dtype q8 on the same folder (mean pooling, the
// default), and the cosine of each int8 row to its fp32 row.
import { openEmbedder } from '../embedder.js';
import type { Dtype } from '../model/dtypes.js';
import { resolveEmbedderSettings } from '../options.js';
import { DRIFT_SAMPLE } from './drift-sample.js';

export interface Drift {
  /** Texts embedded. */
  sample: number;
  minCosine: number;
  meanCosine: number;
}

/** Below this minimum cosine on the sample, quantize and convert --quantize warn. */
export const POOR_DRIFT_COSINE = 0.99;

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  // Two zero rows are the same row.
  return na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}

/** Per-row cosines of two [rows, dim] row-major matrices. */
export function rowCosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < a.length; at += dim) out.push(cosine(a.subarray(at, at + dim), b.subarray(at, at + dim)));
  return out;
}

export function summarizeCosines(cosines: readonly number[]): Drift {
  return { sample: cosines.length, minCosine: Math.min(...cosines), meanCosine: cosines.reduce((s, c) => s + c, 0) / cosines.length };
}

/** `texts` (default: the built-in sample) embedded with `folder`'s graph for `dtype`, rows back to back. */
export async function embedSample(folder: string, dtype: Dtype, threads: number, texts: readonly string[] = DRIFT_SAMPLE): Promise<Float32Array> {
  // Environment-free settings: the folder is local and complete, so nothing is fetched or converted.
  const settings = resolveEmbedderSettings({ model: folder, dtype, threads, offline: true }, {});
  const embedder = await openEmbedder(settings);
  try {
    return await embedder.embedRows(texts.map((t, i) => embedder.prepare(t, false, `drift sample text ${i}`)));
  } finally {
    await embedder.close();
  }
}

/**
 * The drift of `folder`'s q8 graph from its fp32 graph on `texts` (default: the built-in sample);
 * `reference`, the fp32 rows when they are already embedded.
 */
export async function measureDrift(folder: string, threads: number, texts: readonly string[] = DRIFT_SAMPLE, reference?: Float32Array): Promise<Drift> {
  reference ??= await embedSample(folder, 'fp32', threads, texts);
  const quantized = await embedSample(folder, 'q8', threads, texts);
  return summarizeCosines(rowCosines(reference, quantized, reference.length / texts.length));
}
