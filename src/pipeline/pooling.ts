// Pooling of a last_hidden_state batch into one row per text.
// Sequences are right-padded, so the real tokens of row b are positions [0, lengths[b]);
// mean and max read only those, which is what keeps padding from changing any row.

export const POOLINGS = ['mean', 'cls', 'max'] as const;
export type Pooling = (typeof POOLINGS)[number];

/**
 * hidden: [batch, seqLen, dim] row-major. Writes row b's pooled vector to
 * out[outRows[b] * dim ... + dim].
 */
export function poolInto(
  pooling: Pooling,
  hidden: Float32Array,
  seqLen: number,
  dim: number,
  lengths: ArrayLike<number>,
  out: Float32Array,
  outRows: ArrayLike<number>,
): void {
  // Accumulate in float64: thousands of float32 adds would drift past our 1e-5 batch-invariance bound.
  const acc = pooling === 'mean' ? new Float64Array(dim) : undefined;
  for (let b = 0; b < lengths.length; b++) {
    const base = b * seqLen * dim;
    const target = outRows[b] * dim;
    const n = lengths[b];
    if (pooling === 'cls') {
      out.set(hidden.subarray(base, base + dim), target);
    } else if (acc) {
      acc.fill(0);
      for (let t = 0; t < n; t++) {
        const row = base + t * dim;
        for (let d = 0; d < dim; d++) acc[d] += hidden[row + d];
      }
      for (let d = 0; d < dim; d++) out[target + d] = acc[d] / n;
    } else {
      out.set(hidden.subarray(base, base + dim), target);
      for (let t = 1; t < n; t++) {
        const row = base + t * dim;
        for (let d = 0; d < dim; d++) if (hidden[row + d] > out[target + d]) out[target + d] = hidden[row + d];
      }
    }
  }
}

/** Scales each dim-sized row of `rows` to unit L2 norm; all-zero rows stay zero. */
export function l2NormalizeRows(rows: Float32Array, dim: number): void {
  for (let start = 0; start < rows.length; start += dim) {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += rows[start + d] * rows[start + d];
    if (sum === 0) continue;
    const scale = 1 / Math.sqrt(sum);
    for (let d = 0; d < dim; d++) rows[start + d] *= scale;
  }
}
