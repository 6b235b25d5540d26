// Forward-pass FLOPs of an ALBERT encoder, counting multiply-adds as two FLOPs and only the
// matrix products (the elementwise work is a few percent and bandwidth-bound).
//
// Per token: the E->H embedding mapping (2EH), and per layer Q/K/V/output projections (8H^2)
// and the feed-forward pair (4HF). Per token and attended position, per layer: QK^T and the
// weighted sum of V (4H). For ALBERT-base (E 128, H 768, F 3072, 12 layers) that is
// 170.1 MFLOP per token + 36,864 FLOP per token per position, as DESIGN.md section 4 states.

export interface EncoderShape {
  embedding_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
}

export function perTokenFlops(c: EncoderShape): number {
  const H = c.hidden_size;
  return 2 * c.embedding_size * H + c.num_hidden_layers * (8 * H * H + 4 * H * c.intermediate_size);
}

export function perPositionFlops(c: EncoderShape): number {
  return c.num_hidden_layers * 4 * c.hidden_size;
}

/** FLOPs of one sequence of n tokens attending over L positions (L = n when unpadded). */
export function sequenceFlops(c: EncoderShape, n: number, L = n): number {
  return n * perTokenFlops(c) + n * L * perPositionFlops(c);
}

/** FLOPs of the real tokens only: what a perfect, padding-free engine would have to compute. */
export function usefulFlops(c: EncoderShape, lengths: readonly number[]): number {
  let total = 0;
  for (const n of lengths) total += sequenceFlops(c, n);
  return total;
}

/** FLOPs of batches padded to their longest member (every padded position is computed). */
export function paddedFlops(c: EncoderShape, lengths: readonly number[], batches: readonly (readonly number[])[]): number {
  let total = 0;
  for (const batch of batches) {
    const L = Math.max(...batch.map((i) => lengths[i]));
    total += batch.length * sequenceFlops(c, L);
  }
  return total;
}

/** Token positions computed when each batch is padded to its longest member. */
export function paddedTokens(lengths: readonly number[], batches: readonly (readonly number[])[]): number {
  let total = 0;
  for (const batch of batches) total += batch.length * Math.max(...batch.map((i) => lengths[i]));
  return total;
}

/** Batches of `size` in input order, as a pipeline called on consecutive slices runs them. */
export function inputOrderBatches(count: number, size: number): number[][] {
  const batches: number[][] = [];
  for (let start = 0; start < count; start += size) {
    batches.push(Array.from({ length: Math.min(size, count - start) }, (_, i) => start + i));
  }
  return batches;
}
