// Runs tokenized texts through the graph in length-sorted batches and pools each into a row.
import { endianness } from 'node:os';
import { InferenceError, ModelError } from '../errors.js';
import { OUTPUT_NAME, type LoadedModel } from '../model/model.js';
import type { TokenFeed } from '../model/session.js';
import { planBatches, type BatchLimits } from './batching.js';
import type { PoolSettings } from '../options.js';
import { l2NormalizeRows, poolInto, type Pooling } from './pooling.js';
import type { Tokenized } from './tokenize.js';

interface TokenInput {
  data: BigInt64Array | Int32Array | Float32Array;
  view: Int32Array | Float32Array;
  /** Elements of `view` per tensor element. */
  stride: number;
}

/** What one finished forward pass embedded: texts and their real tokens. */
export interface BatchDone {
  rows: number;
  tokens: number;
}

/** Names item `index` for messages: `texts[3]`, `in.txt:12`. */
export type Locate = (index: number) => string;

export class BatchEncoder {
  readonly dim: number;
  /** Token positions computed so far, padding included, and the real tokens among them. */
  paddedTokens = 0;
  realTokens = 0;
  private readonly limits: BatchLimits;
  private readonly inputTypes: Map<string, string>;

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
    // One of TOKEN_INPUT_TYPES each (checked when the model loaded).
    this.inputTypes = new Map(model.session.inputs.map((i) => [i.name, i.type]));
    this.limits = { ...limits, batchSize: model.fixedBatch ?? limits.batchSize, sameLength: !hasMask };
  }

  /**
   * A zeroed [batch x sequence] input in the element type the graph declares, and a view to write
   * small non-negative integers through. int64 is written as the low words of an Int32Array view
   * (little-endian), so no token is ever boxed into a BigInt.
   */
  private tokenInput(name: string, size: number): TokenInput {
    switch (this.inputTypes.get(name)) {
      case 'int32': {
        const data = new Int32Array(size);
        return { data, view: data, stride: 1 };
      }
      case 'float32': {
        const data = new Float32Array(size);
        return { data, view: data, stride: 1 };
      }
      default: {
        const data = new BigInt64Array(size);
        return { data, view: new Int32Array(data.buffer), stride: 2 };
      }
    }
  }

  /** Pooled rows for `items`, in their order: a [items.length, dim] matrix, row-major. */
  async encode(items: readonly Tokenized[], pool: PoolSettings, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<Float32Array> {
    const out = new Float32Array(items.length * this.dim);
    const lengths = items.map((item) => item.ids.length);
    for (const batch of planBatches(lengths, this.limits)) {
      const tokens = await this.runBatch(items, batch, pool.pooling, out);
      this.checkFinite(out, batch, locate);
      onBatch?.({ rows: batch.length, tokens });
    }
    if (pool.normalize) l2NormalizeRows(out, this.dim);
    return out;
  }

  /** A NaN or infinite value in a row is a broken model or input, never a row to write. */
  private checkFinite(out: Float32Array, batch: readonly number[], locate: Locate): void {
    for (const index of batch) {
      const row = out.subarray(index * this.dim, (index + 1) * this.dim);
      for (let d = 0; d < row.length; d++) {
        if (!Number.isFinite(row[d])) {
          throw new InferenceError(
            `${locate(index)}: the model produced ${row[d]} in its row (dimension ${d})`,
            'the checkpoint\'s weights overflow on this text or are damaged; check the weights, or try --dtype fp32',
          );
        }
      }
    }
  }

  /**
   * One forward pass of the special tokens alone, at load: it proves the graph runs and returns
   * rows of config.json's width before any output file is written.
   */
  async probe(): Promise<void> {
    const ids = Int32Array.from([...this.model.tokenizer.prefix, ...this.model.tokenizer.suffix]);
    const out = new Float32Array(this.dim);
    await this.runBatch([{ ids, truncated: false }], [0], 'mean', out, (dims) =>
      new ModelError(
        `graph ${this.model.files.onnx} returns ${OUTPUT_NAME} of shape [${dims.join(', ')}] for one text of ${ids.length} tokens; expected [1, ${ids.length}, ${this.dim}] (hidden_size from config.json)`,
        'config.json and the ONNX graph come from different checkpoints; fetch both from the same one',
      ),
    );
    this.paddedTokens = 0;
    this.realTokens = 0;
  }

  /** Runs one batch, pools its rows into `out`, and returns its real token count. */
  private async runBatch(items: readonly Tokenized[], batch: number[], pooling: Pooling, out: Float32Array, badShape?: (dims: readonly number[]) => Error): Promise<number> {
    const { session, tokenizer } = this.model;
    const rows = this.model.fixedBatch ?? batch.length;
    let seqLen = this.model.fixedSeqLen ?? 0;
    for (const i of batch) seqLen = Math.max(seqLen, items[i].ids.length);
    const size = rows * seqLen;
    this.paddedTokens += size;
    const ids = this.tokenInput('input_ids', size);
    const mask = this.tokenInput('attention_mask', size);
    if (tokenizer.padId !== 0) for (let i = 0; i < size; i++) ids.view[i * ids.stride] = tokenizer.padId;
    const lengths = new Int32Array(batch.length);
    let real = 0;
    batch.forEach((itemIndex, b) => {
      const tokens = items[itemIndex].ids;
      lengths[b] = tokens.length;
      real += tokens.length;
      const base = b * seqLen;
      for (let t = 0; t < tokens.length; t++) {
        ids.view[(base + t) * ids.stride] = tokens[t];
        mask.view[(base + t) * mask.stride] = 1;
      }
    });
    // Filler rows of a fixed-batch graph attend to one token so softmax stays finite; their output is dropped.
    for (let b = batch.length; b < rows; b++) mask.view[b * seqLen * mask.stride] = 1;

    const dims = [rows, seqLen];
    const feeds: Record<string, TokenFeed> = {};
    for (const input of session.inputs) {
      if (input.name === 'input_ids') feeds.input_ids = { data: ids.data, dims };
      else if (input.name === 'attention_mask') feeds.attention_mask = { data: mask.data, dims };
      else if (input.name === 'token_type_ids') feeds.token_type_ids = { data: this.tokenInput(input.name, size).data, dims };
      else if (input.name === 'position_ids') {
        const positions = this.tokenInput(input.name, size);
        for (let i = 0; i < size; i++) positions.view[i * positions.stride] = i % seqLen;
        feeds.position_ids = { data: positions.data, dims };
      }
    }
    const hidden = await session.run(feeds, OUTPUT_NAME);
    const [gotRows, gotLen, gotDim] = hidden.dims;
    if (hidden.dims.length !== 3 || gotRows !== rows || gotLen !== seqLen || gotDim !== this.dim) {
      if (badShape) throw badShape(hidden.dims);
      throw new InferenceError(
        `graph output ${OUTPUT_NAME} has shape [${hidden.dims.join(', ')}], expected [${rows}, ${seqLen}, ${this.dim}] (hidden_size from config.json)`,
        'config.json and the ONNX graph disagree; check that they come from the same checkpoint',
      );
    }
    poolInto(pooling, hidden.data, seqLen, this.dim, lengths, out, batch);
    this.realTokens += real;
    return real;
  }
}
