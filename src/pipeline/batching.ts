// Groups texts into batches of similar length. onnxruntime's CPU kernels compute every padded
// position, so sorting by token count and capping padded tokens per batch removes most of the
// work that input-order batching wastes.

export interface BatchLimits {
  /** Most texts in one batch. */
  batchSize: number;
  /** Most padded tokens (texts x longest length) in one batch; a single longer text still runs alone. */
  maxBatchTokens: number;
  /** Only texts of one length per batch: for graphs without an attention mask, where padding would be attended. */
  sameLength?: boolean;
}

/** Returns batches of indices into `lengths`, shortest texts first. */
export function planBatches(lengths: ArrayLike<number>, limits: BatchLimits): number[][] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    // Sorted ascending, so the newcomer is the longest and sets the padded length.
    const padded = (current.length + 1) * lengths[index];
    const lengthChanges = limits.sameLength === true && current.length > 0 && lengths[current[0]] !== lengths[index];
    if (current.length > 0 && (current.length >= limits.batchSize || padded > limits.maxBatchTokens || lengthChanges)) {
      batches.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
