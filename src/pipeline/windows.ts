// Long texts, --overflow chunk: a text's content tokens C (no special tokens, nothing dropped)
// are cut into windows of W = max_length - S tokens (S: the special tokens around one text)
// that start at 0, W-K, 2(W-K), ... with K = --chunk-overlap tokens shared by neighbours; the
// last window is the first that reaches the end of C and may be shorter. Each window is embedded
// as [CLS] window [SEP]; the text's row combines the window rows: their mean weighted by each
// window's token count (special tokens included), or their element-wise max for max pooling.

/** Start offsets of the windows over `contentLength` tokens: 1 + ceil((len - W) / (W - K)) of them past W. */
export function windowStarts(contentLength: number, width: number, overlap: number): number[] {
  if (width <= 0 || overlap < 0 || overlap >= width) throw new Error(`window width ${width}, overlap ${overlap}`);
  const starts = [0];
  while (starts[starts.length - 1] + width < contentLength) starts.push(starts[starts.length - 1] + width - overlap);
  return starts;
}

/** The windows of `content` as full sequences, special tokens around each. */
export function windowSequences(content: ArrayLike<number>, prefix: readonly number[], suffix: readonly number[], width: number, overlap: number): Int32Array[] {
  return windowStarts(content.length, width, overlap).map((start) => {
    const end = Math.min(start + width, content.length);
    const ids = new Int32Array(prefix.length + (end - start) + suffix.length);
    ids.set(prefix, 0);
    for (let i = start; i < end; i++) ids[prefix.length + i - start] = content[i];
    ids.set(suffix, prefix.length + end - start);
    return ids;
  });
}

/**
 * Rows of windows (row-major, `dim` wide) into one row per record: `counts[r]` windows each,
 * in order, weighted by `weights` (mean) or element-wise max.
 */
export function combineWindows(rows: Float32Array, dim: number, counts: readonly number[], weights: ArrayLike<number>, mode: 'mean' | 'max'): Float32Array {
  const out = new Float32Array(counts.length * dim);
  const acc = new Float64Array(dim);
  let w = 0;
  counts.forEach((count, r) => {
    const target = r * dim;
    if (count === 1) {
      out.set(rows.subarray(w * dim, (w + 1) * dim), target);
      w++;
      return;
    }
    if (mode === 'max') {
      out.set(rows.subarray(w * dim, (w + 1) * dim), target);
      for (let k = 1; k < count; k++) {
        const base = (w + k) * dim;
        for (let d = 0; d < dim; d++) if (rows[base + d] > out[target + d]) out[target + d] = rows[base + d];
      }
    } else {
      acc.fill(0);
      let total = 0;
      for (let k = 0; k < count; k++) {
        const base = (w + k) * dim;
        const weight = weights[w + k];
        total += weight;
        for (let d = 0; d < dim; d++) acc[d] += weight * rows[base + d];
      }
      for (let d = 0; d < dim; d++) out[target + d] = acc[d] / total;
    }
    w += count;
  });
  return out;
}
