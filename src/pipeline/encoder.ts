// Runs tokenized texts through the graph in length-sorted batches and pools each into a row.
import { endianness } from 'node:os';
import { InferenceError } from '../errors.js';
import { OUTPUT_NAME, type LoadedModel } from '../model/model.js';
import type { Int64Feed } from '../model/session.js';
import { planBatches, type BatchLimits } from './batching.js';
import { l2NormalizeRows, poolInto, type Pooling } from './pooling.js';
import type { Tokenized } from './tokenize.js';

export interface PoolSettings {
  pooling: Pooling;
  normalize: boolean;
}

export class BatchEncoder {
  readonly dim: number;
  /** Token positions computed so far, padding included, and the real tokens among them. */
  paddedTokens = 0;
  realTokens = 0;
  private readonly limits: BatchLimits;

  constructor(
    private readonly model: LoadedModel,
    limits: BatchLimits,
  ) {
    if (endianness() !== 'LE') throw new InferenceError('albert-embed writes int64 tensors assuming a little-endian host');
    this.dim = model.config.hiddenSize;
    // A graph exported with a fixed batch size only accepts exactly that many rows; one without an
    // attention mask would attend to padding, so it only ever sees batches of equal lengths
    // (and a fixed sequence length it cannot be padded to at all; see chooseMaxLength).
    const hasMask = model.session.inputs.some((i) => i.name === 'attention_mask');
    this.limits = { ...limits, batchSize: model.fixedBatch ?? limits.batchSize, sameLength: !hasMask };
  }

  /** Pooled rows for `items`, in their order: a [items.length, dim] matrix, row-major. */
  async encode(items: readonly Tokenized[], pool: PoolSettings): Promise<Float32Array> {
    const out = new Float32Array(items.length * this.dim);
    const lengths = items.map((item) => item.ids.length);
    for (const batch of planBatches(lengths, this.limits)) await this.runBatch(items, batch, pool.pooling, out);
    if (pool.normalize) l2NormalizeRows(out, this.dim);
    return out;
  }

  private async runBatch(items: readonly Tokenized[], batch: number[], pooling: Pooling, out: Float32Array): Promise<void> {
    const { session, tokenizer } = this.model;
    const rows = this.model.fixedBatch ?? batch.length;
    let seqLen = this.model.fixedSeqLen ?? 0;
    for (const i of batch) seqLen = Math.max(seqLen, items[i].ids.length);
    const size = rows * seqLen;
    this.paddedTokens += size;
    // int64 tensors written through int32 views of their buffers: token ids are small and
    // non-negative, so on little-endian hosts the low word is the value and the high word 0.
    // This avoids boxing every token into a BigInt.
    const ids = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    const ids32 = new Int32Array(ids.buffer);
    const mask32 = new Int32Array(mask.buffer);
    if (tokenizer.padId !== 0) for (let i = 0; i < size; i++) ids32[2 * i] = tokenizer.padId;
    const lengths = new Int32Array(batch.length);
    batch.forEach((itemIndex, b) => {
      const tokens = items[itemIndex].ids;
      lengths[b] = tokens.length;
      this.realTokens += tokens.length;
      const base = b * seqLen;
      for (let t = 0; t < tokens.length; t++) {
        ids32[2 * (base + t)] = tokens[t];
        mask32[2 * (base + t)] = 1;
      }
    });
    // Filler rows of a fixed-batch graph attend to one token so softmax stays finite; their output is dropped.
    for (let b = batch.length; b < rows; b++) mask32[2 * b * seqLen] = 1;

    const dims = [rows, seqLen];
    const feeds: Record<string, Int64Feed> = {};
    for (const input of session.inputs) {
      if (input.name === 'input_ids') feeds.input_ids = { data: ids, dims };
      else if (input.name === 'attention_mask') feeds.attention_mask = { data: mask, dims };
      else if (input.name === 'token_type_ids') feeds.token_type_ids = { data: new BigInt64Array(size), dims };
      else if (input.name === 'position_ids') {
        const positions = new BigInt64Array(size);
        const positions32 = new Int32Array(positions.buffer);
        for (let i = 0; i < size; i++) positions32[2 * i] = i % seqLen;
        feeds.position_ids = { data: positions, dims };
      }
    }
    const hidden = await session.run(feeds, OUTPUT_NAME);
    const [gotRows, gotLen, gotDim] = hidden.dims;
    if (hidden.dims.length !== 3 || gotRows !== rows || gotLen !== seqLen || gotDim !== this.dim) {
      throw new InferenceError(
        `graph output ${OUTPUT_NAME} has shape [${hidden.dims.join(', ')}], expected [${rows}, ${seqLen}, ${this.dim}] (hidden_size from config.json)`,
        'config.json and the ONNX graph disagree; check that they come from the same checkpoint',
      );
    }
    poolInto(pooling, hidden.data, seqLen, this.dim, lengths, out, batch);
  }
}
