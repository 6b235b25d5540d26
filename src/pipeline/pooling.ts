// Pooling: how a text's token vectors become its row. A closed choice: mean, cls and max are
// computed here from hidden states; pooler reads the graph's pooler_output; none keeps every
// token's vector.
// Sequences are right-padded, so the real tokens of row b are positions [0, lengths[b]); mean and
// max read only those, which is what keeps padding from changing any row.

export const POOLINGS = ['mean', 'cls', 'max', 'pooler', 'none'] as const;
export type Pooling = (typeof POOLINGS)[number];
/** The poolings computed from hidden states. */
type TokenPooling = 'mean' | 'cls' | 'max';

export function isTokenPooling(pooling: Pooling): pooling is TokenPooling {
  return pooling === 'mean' || pooling === 'cls' || pooling === 'max';
}

/**
 * hidden: [batch, seqLen, dim] row-major. Writes row b's pooled vector to
 * out[outRows[b] * rowWidth + column ... + dim]: several layers pooled side by side share a row.
 */
export function poolInto(
  pooling: TokenPooling,
  hidden: Float32Array,
  seqLen: number,
  dim: number,
  lengths: ArrayLike<number>,
  out: Float32Array,
  outRows: ArrayLike<number>,
  rowWidth = dim,
  column = 0,
): void {
  // Accumulate in float64: thousands of float32 adds would drift past our 1e-5 batch-invariance bound.
  const acc = pooling === 'mean' ? new Float64Array(dim) : undefined;
  for (let b = 0; b < lengths.length; b++) {
    const base = b * seqLen * dim;
    const target = outRows[b] * rowWidth + column;
    const n = lengths[b];
    switch (pooling) {
      case 'cls':
        out.set(hidden.subarray(base, base + dim), target);
        break;
      case 'mean': {
        acc!.fill(0);
        for (let t = 0; t < n; t++) {
          const row = base + t * dim;
          for (let d = 0; d < dim; d++) acc![d] += hidden[row + d];
        }
        for (let d = 0; d < dim; d++) out[target + d] = acc![d] / n;
        break;
      }
      case 'max':
        out.set(hidden.subarray(base, base + dim), target);
        for (let t = 1; t < n; t++) {
          const row = base + t * dim;
          for (let d = 0; d < dim; d++) if (hidden[row + d] > out[target + d]) out[target + d] = hidden[row + d];
        }
        break;
      default: {
        const never: never = pooling;
        throw new Error(`unhandled pooling ${never}`);
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
