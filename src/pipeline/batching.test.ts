import { describe, expect, it } from 'vitest';
import { planBatches } from './batching.js';

describe('planBatches', () => {
  const lengths = [5, 120, 7, 7, 64, 3, 128, 9, 2, 30];

  it('uses every index exactly once, shortest first', () => {
    const batches = planBatches(lengths, { batchSize: 3, maxBatchTokens: 10_000 });
    const flat = batches.flat();
    expect([...flat].sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    const sortedLengths = flat.map((i) => lengths[i]);
    expect(sortedLengths).toEqual([...sortedLengths].sort((a, b) => a - b));
  });

  it('respects the batch size and the padded-token budget', () => {
    const limits = { batchSize: 4, maxBatchTokens: 130 };
    for (const batch of planBatches(lengths, limits)) {
      expect(batch.length).toBeLessThanOrEqual(limits.batchSize);
      const padded = batch.length * Math.max(...batch.map((i) => lengths[i]));
      // A single text longer than the budget still runs, alone.
      if (batch.length > 1) expect(padded).toBeLessThanOrEqual(limits.maxBatchTokens);
    }
  });

  it('keeps equal lengths in input order', () => {
    expect(planBatches([4, 4, 4], { batchSize: 8, maxBatchTokens: 100 })).toEqual([[0, 1, 2]]);
  });

  it('returns no batches for no texts', () => {
    expect(planBatches([], { batchSize: 8, maxBatchTokens: 100 })).toEqual([]);
  });
});
