// Runs tokenized texts through the graph in length-sorted batches and turns each into its row
// (pooled hidden states of the chosen layers side by side, or the pooler output) or into its
// token vectors.
import { endianness } from 'node:os';
import { InferenceError, ModelError } from '../errors.js';
import { OUTPUT_NAME, type LoadedModel } from '../model/model.js';
import type { FloatOutput, TokenFeed } from '../model/session.js';
import { planBatches, type BatchLimits } from './batching.js';
import { isTokenPooling, poolInto, type Pooling } from './pooling.js';
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

/** What to fetch and how to make rows of it. */
export interface EncodePlan {
  /** Graph outputs: one [batch, sequence, hidden] output per layer, or ['pooler_output']. */
  outputs: readonly string[];
  pooling: Pooling;
}

/** Where a batch's results go: rows of pooled items, or each item's token vectors. */
type Sink = { kind: 'rows'; out: Float32Array } | { kind: 'tokens'; out: Float32Array[] };

export class BatchEncoder {
  /** Width of the hidden states: config.json's hidden_size. */
  readonly hidden: number;
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
    this.hidden = model.config.hiddenSize;
    // A graph exported with a fixed batch size only accepts exactly that many rows; one without an
    // attention mask would attend to padding, so it only ever sees batches of equal lengths
    // (and a fixed sequence length it cannot be padded to at all; see chooseMaxLength).
    const hasMask = model.session.inputs.some((i) => i.name === 'attention_mask');
    // One of TOKEN_INPUT_TYPES each (checked when the model loaded).
    this.inputTypes = new Map(model.session.inputs.map((i) => [i.name, i.type]));
    this.limits = { ...limits, batchSize: model.fixedBatch ?? limits.batchSize, sameLength: !hasMask };
  }

  /** Values per row (pooled) or per token vector (pooling none) under `plan`. */
  width(plan: EncodePlan): number {
    return plan.pooling === 'pooler' ? this.hidden : plan.outputs.length * this.hidden;
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

  /** Rows for `items`, in their order: a [items.length, width] matrix, row-major. */
  async encode(items: readonly Tokenized[], plan: EncodePlan, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<Float32Array> {
    if (plan.pooling === 'none') throw new Error('encode() makes rows; token vectors come from encodeTokens()');
    const sink: Sink = { kind: 'rows', out: new Float32Array(items.length * this.width(plan)) };
    await this.run(items, plan, sink, locate, onBatch);
    return sink.out;
  }

  /** Every token's vector of each item ([length, width] row-major), special tokens included. */
  async encodeTokens(items: readonly Tokenized[], plan: EncodePlan, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<Float32Array[]> {
    const width = this.width(plan);
    const sink: Sink = { kind: 'tokens', out: items.map((item) => new Float32Array(item.ids.length * width)) };
    await this.run(items, plan, sink, locate, onBatch);
    return sink.out;
  }

  private async run(items: readonly Tokenized[], plan: EncodePlan, sink: Sink, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<void> {
    const lengths = items.map((item) => item.ids.length);
    for (const batch of planBatches(lengths, this.limits)) {
      const tokens = await this.runBatch(items, batch, plan, sink);
      this.checkFinite(sink, batch, locate, this.width(plan));
      onBatch?.({ rows: batch.length, tokens });
    }
  }

  /** A NaN or infinite value in a row is a broken model or input, never a row to write. */
  private checkFinite(sink: Sink, batch: readonly number[], locate: Locate, width: number): void {
    for (const index of batch) {
      const values = sink.kind === 'rows' ? sink.out.subarray(index * width, (index + 1) * width) : sink.out[index];
      for (let d = 0; d < values.length; d++) {
        if (!Number.isFinite(values[d])) {
          const dtype = this.model.files.dtype;
          const at = sink.kind === 'rows' ? `dimension ${d}` : `token ${Math.floor(d / width)}, dimension ${d % width}`;
          throw new InferenceError(
            `${locate(index)}: the model produced ${values[d]} in its ${sink.kind === 'rows' ? 'row' : 'token vectors'} (${at})`,
            dtype === 'fp32'
              ? "the checkpoint's weights are damaged or overflow on this text; check the weights with another tool"
              : `the ${dtype} weights overflow on this text; try --dtype fp32`,
          );
        }
      }
    }
  }

  /**
   * One forward pass at load, of `length` tokens made of the largest id the tokenizer can
   * produce: it proves, before any output file is written, that the graph runs, returns rows of
   * config.json's width, has the embedding rows the tokenizer needs and, at the run's max length,
   * the positions config.json promises.
   */
  async probe(length: number): Promise<void> {
    const { prefix, suffix, maxId } = this.model.tokenizer;
    const fill = Math.max(0, length - prefix.length - suffix.length);
    const ids = Int32Array.from([...prefix, ...new Array<number>(fill).fill(maxId), ...suffix]);
    const graph = this.model.files.onnx;
    const hint = 'config.json, the tokenizer and the ONNX graph come from different checkpoints; fetch them from the same one';
    const sink: Sink = { kind: 'rows', out: new Float32Array(this.hidden) };
    try {
      await this.runBatch([{ ids, truncated: false }], [0], { outputs: [OUTPUT_NAME], pooling: 'mean' }, sink, (name, dims) =>
        new ModelError(`graph ${graph} returns ${name} of shape [${dims.join(', ')}] for one text of ${ids.length} tokens; expected [1, ${ids.length}, ${this.hidden}] (hidden_size from config.json)`, hint),
      );
    } catch (err) {
      if (!(err instanceof InferenceError)) throw err;
      throw new ModelError(
        `graph ${graph} fails on ${ids.length} tokens of token id ${maxId} (the largest the tokenizer produces): ${err.message.replace(/^onnxruntime failed on a batch of shape \[[\d, ]*\]: /, '')}`,
        hint,
        { cause: err },
      );
    }
    this.paddedTokens = 0;
    this.realTokens = 0;
  }

  private feeds(items: readonly Tokenized[], batch: readonly number[], rows: number, seqLen: number): Record<string, TokenFeed> {
    const { session, tokenizer } = this.model;
    const size = rows * seqLen;
    const ids = this.tokenInput('input_ids', size);
    const mask = this.tokenInput('attention_mask', size);
    if (tokenizer.padId !== 0) for (let i = 0; i < size; i++) ids.view[i * ids.stride] = tokenizer.padId;
    batch.forEach((itemIndex, b) => {
      const tokens = items[itemIndex].ids;
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
    return feeds;
  }

  /** Runs one batch, writes its items into `sink`, and returns its real token count. */
  private async runBatch(items: readonly Tokenized[], batch: number[], plan: EncodePlan, sink: Sink, badShape?: (name: string, dims: readonly number[]) => Error): Promise<number> {
    const rows = this.model.fixedBatch ?? batch.length;
    let seqLen = this.model.fixedSeqLen ?? 0;
    for (const i of batch) seqLen = Math.max(seqLen, items[i].ids.length);
    this.paddedTokens += rows * seqLen;
    const lengths = Int32Array.from(batch, (i) => items[i].ids.length);
    const real = lengths.reduce((a, b) => a + b, 0);
    const outputs = await this.model.session.run(this.feeds(items, batch, rows, seqLen), plan.outputs);
    const pooler = plan.pooling === 'pooler';
    outputs.forEach((output, k) => {
      const expected = pooler ? [rows, this.hidden] : [rows, seqLen, this.hidden];
      if (output.dims.length !== expected.length || output.dims.some((d, i) => d !== expected[i])) {
        if (badShape) throw badShape(plan.outputs[k], output.dims);
        throw new InferenceError(
          `graph output ${plan.outputs[k]} has shape [${output.dims.join(', ')}], expected [${expected.join(', ')}] (hidden_size from config.json)`,
          'config.json and the ONNX graph disagree; check that they come from the same checkpoint',
        );
      }
      this.place(output, k, outputs.length, plan.pooling, batch, lengths, seqLen, sink);
    });
    this.realTokens += real;
    return real;
  }

  /** Output `k` of `count` (one layer, or the pooler) into the batch's rows or token vectors. */
  private place(output: FloatOutput, k: number, count: number, pooling: Pooling, batch: readonly number[], lengths: Int32Array, seqLen: number, sink: Sink): void {
    const H = this.hidden;
    const width = pooling === 'pooler' ? H : count * H;
    if (sink.kind === 'tokens') {
      // Token t of item b: [layer 0 | layer 1 | ...] side by side, like pooled rows.
      batch.forEach((item, b) => {
        const target = sink.out[item];
        for (let t = 0; t < lengths[b]; t++) target.set(output.data.subarray((b * seqLen + t) * H, (b * seqLen + t + 1) * H), t * width + k * H);
      });
    } else if (pooling === 'pooler') {
      batch.forEach((item, b) => sink.out.set(output.data.subarray(b * H, (b + 1) * H), item * width));
    } else if (isTokenPooling(pooling)) {
      poolInto(pooling, output.data, seqLen, H, lengths, sink.out, batch, width, k * H);
    }
  }
}
