// Texts to rows: --overflow decides a text's windows (one truncated sequence, every window of a
// long text, or an error), the encoder embeds the windows, the windows of a text combine into its
// row, and rows are normalized last. Token vectors (--pooling none) skip the combining.
import { InputError, ModelError, UsageError } from '../errors.js';
import { OUTPUT_NAME, type LoadedModel } from '../model/model.js';
import { labelOf, type Naming, type Overflow } from '../options.js';
import type { BatchDone, BatchEncoder, EncodePlan, Locate } from './encoder.js';
import { l2NormalizeRows, type Pooling } from './pooling.js';
import { allContentTokens, tokenize, type Tokenized } from './tokenize.js';
import { combineWindows, windowSequences } from './windows.js';

/** A text made ready to embed: its windows (one unless it was chunked). */
export interface Prepared {
  windows: Tokenized[];
  /** Tokens embedded over all windows, special tokens included. */
  tokens: number;
  truncated: boolean;
}

interface RecordSettings {
  maxLength: number;
  overflow: Overflow;
  chunkOverlap: number;
  /** Hidden-state layers as given (negative from the end). */
  layers: readonly number[];
}

const POOLER_OUTPUT = 'pooler_output';

/** hidden_states.k outputs the graph has: N + 1 of them when it has any (k = 0..N). */
function hiddenStateCount(model: LoadedModel): number {
  return model.session.outputs.filter((o) => /^hidden_states\.\d+$/.test(o.name)).length;
}

/**
 * The graph outputs for `layers`: the last layer is last_hidden_state (every export has it), any
 * other is hidden_states.k, which graphs written by convert have.
 */
function layerOutputs(model: LoadedModel, layers: readonly number[], naming: Naming): string[] {
  const label = labelOf('layers', naming);
  const counted = hiddenStateCount(model);
  const N = counted > 0 ? counted - 1 : model.config.numLayers;
  return layers.map((layer) => {
    if (N === undefined) {
      if (layer === -1) return OUTPUT_NAME;
      throw new ModelError(`${label} ${layer}: config.json has no num_hidden_layers and the graph no hidden_states outputs, so only the last layer (-1) is known`, 'convert the checkpoint with albert-embed convert, which writes every layer');
    }
    const k = layer < 0 ? N + 1 + layer : layer;
    if (k < 0 || k > N) throw new UsageError(`${label} ${layer} is out of range: this model has ${N} layers, so indexes run 0..${N} (or -${N + 1}..-1)`, `for example ${label} -1`);
    if (k === N) return OUTPUT_NAME;
    const name = `hidden_states.${k}`;
    if (!model.session.outputs.some((o) => o.name === name)) {
      throw new ModelError(
        `${label} ${layer}: graph ${model.files.onnx} has no ${name} output (it outputs ${model.session.outputs.map((o) => o.name).join(', ')})`,
        'albert-embed convert writes every layer\'s hidden states: convert the checkpoint (config.json, weights, tokenizer) instead of using this export',
      );
    }
    return name;
  });
}

export class RecordEncoder {
  private readonly room: number;

  constructor(
    private readonly model: LoadedModel,
    private readonly encoder: BatchEncoder,
    private readonly settings: RecordSettings,
    private readonly naming: Naming,
  ) {
    const { prefix, suffix } = model.tokenizer;
    this.room = settings.maxLength - prefix.length - suffix.length;
    if (settings.overflow === 'chunk' && settings.chunkOverlap >= this.room) {
      const label = labelOf('chunkOverlap', naming);
      throw new UsageError(`${label} ${settings.chunkOverlap} must be less than the ${this.room} text tokens of a window (max length ${settings.maxLength} minus ${prefix.length + suffix.length} special tokens)`, `use ${label} ${Math.floor(this.room / 4)} or so`);
    }
  }

  /** What to fetch for `pooling`; the pooler output must exist in the graph to be asked for. */
  plan(pooling: Pooling): EncodePlan {
    if (pooling !== 'pooler') return { outputs: layerOutputs(this.model, this.settings.layers, this.naming), pooling };
    if (!this.model.session.outputs.some((o) => o.name === POOLER_OUTPUT)) {
      throw new ModelError(
        `--pooling pooler: graph ${this.model.files.onnx} has no ${POOLER_OUTPUT} output, so the checkpoint's pooler is not in it`,
        'albert-embed convert writes pooler_output when the checkpoint has pooler weights; otherwise use --pooling mean or cls',
      );
    }
    return { outputs: [POOLER_OUTPUT], pooling };
  }

  width(pooling: Pooling): number {
    return this.encoder.width(this.plan(pooling));
  }

  /** The windows of one text under --overflow; `place` names it in errors (`in.txt:4`). */
  prepare(text: string, cut: boolean, place: string): Prepared {
    const { tokenizer } = this.model;
    const { maxLength, overflow, chunkOverlap } = this.settings;
    switch (overflow) {
      case 'truncate': {
        const t = tokenize(tokenizer, text, maxLength, cut);
        return { windows: [t], tokens: t.ids.length, truncated: t.truncated };
      }
      case 'error': {
        const content = allContentTokens(tokenizer, text);
        if (content.length > this.room) {
          const label = labelOf('maxLength', this.naming);
          throw new InputError(
            `${place}: ${content.length} tokens, more than the ${this.room} that fit in ${label} ${maxLength} next to ${maxLength - this.room} special tokens`,
            `with ${labelOf('overflow', this.naming)} error, every text must fit; use truncate or chunk to embed longer texts`,
          );
        }
        const t = tokenize(tokenizer, text, maxLength);
        return { windows: [t], tokens: t.ids.length, truncated: false };
      }
      case 'chunk': {
        const windows = windowSequences(allContentTokens(tokenizer, text), tokenizer.prefix, tokenizer.suffix, this.room, chunkOverlap).map((ids) => ({ ids, truncated: false }));
        return { windows, tokens: windows.reduce((sum, w) => sum + w.ids.length, 0), truncated: false };
      }
      default: {
        const never: never = overflow;
        throw new Error(`unhandled overflow ${never}`);
      }
    }
  }

  /** One row per record ([records, width]), windows combined, normalized if asked. */
  async rows(records: readonly Prepared[], pooling: Pooling, normalize: boolean, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<Float32Array> {
    const plan = this.plan(pooling);
    const width = this.encoder.width(plan);
    const windows = records.flatMap((r) => r.windows);
    const owner = records.flatMap((r, i) => r.windows.map(() => i));
    const windowRows = await this.encoder.encode(windows, plan, (w) => locate(owner[w]), onBatch);
    const rows = windows.length === records.length
      ? windowRows
      : combineWindows(windowRows, width, records.map((r) => r.windows.length), Int32Array.from(windows, (w) => w.ids.length), pooling === 'max' ? 'max' : 'mean');
    if (normalize) l2NormalizeRows(rows, width);
    return rows;
  }

  /** Every token's vector of each record ([tokens, width] each), normalized one by one if asked. */
  async tokens(records: readonly Prepared[], normalize: boolean, locate: Locate, onBatch?: (done: BatchDone) => void): Promise<Float32Array[]> {
    const plan = this.plan('none');
    // --pooling none never chunks (options refuse the pair), so every record is one window.
    const vectors = await this.encoder.encodeTokens(records.map((r) => r.windows[0]), plan, locate, onBatch);
    if (normalize) for (const v of vectors) l2NormalizeRows(v, this.encoder.width(plan));
    return vectors;
  }
}
