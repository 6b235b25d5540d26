// The checkpoint's own tokenizer (tokenizer.json + tokenizer_config.json, through
// Transformers.js), reduced to what the pipeline needs: content ids without special tokens,
// and the special tokens that go around them.
import { readFileSync } from 'node:fs';
import { ModelError, errorMessage } from '../errors.js';
import { readJson } from './folder.js';
import { instantiateTokenizer, type Tokenizer } from './transformers.js';

export interface TextTokenizer {
  /** tokenizer.json model type: Unigram (SentencePiece), WordPiece, BPE. */
  readonly kind: string;
  readonly className: string;
  readonly vocabSize: number;
  /** The largest id the tokenizer can produce, added tokens included. */
  readonly maxId: number;
  /** tokenizer_config.json model_max_length, when it is a real limit. */
  readonly modelMaxLength?: number;
  readonly padId: number;
  /** Special tokens the post-processor puts before and after a single text ([CLS] / [SEP]). */
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
  /** Token ids of the text alone, without special tokens and untruncated. */
  encode(text: string): number[];
}

/** Finds the special tokens around a probe text by comparing encodings with and without them. */
function specialsAround(tok: Tokenizer): { prefix: number[]; suffix: number[] } {
  const probe = 'a';
  const full = tok.encode(probe, { add_special_tokens: true });
  const bare = tok.encode(probe, { add_special_tokens: false });
  for (let start = 0; start + bare.length <= full.length; start++) {
    if (bare.every((id, i) => full[start + i] === id)) {
      return { prefix: full.slice(0, start), suffix: full.slice(start + bare.length) };
    }
  }
  throw new ModelError('the tokenizer post-processor rewrites the text tokens, which albert-embed cannot truncate safely');
}

/** tokenizer_config.json names special tokens as strings or as AddedToken objects. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/**
 * ALBERT was trained on [CLS] text [SEP]: a tokenizer.json whose post-processor adds nothing, or
 * adds other tokens than tokenizer_config.json's cls_token / sep_token, would embed text the
 * model never saw, silently.
 */
function checkSpecials(tok: Tokenizer, path: string, config: Record<string, unknown>, prefix: number[], suffix: number[]): void {
  const hint = 'the tokenizer.json post_processor must add [CLS] before and [SEP] after a text (TemplateProcessing "[CLS]:0 $A:0 [SEP]:0"); export the tokenizer again, or convert the checkpoint with albert-embed convert';
  if (prefix.length === 0 || suffix.length === 0) {
    const what = prefix.length === 0 && suffix.length === 0 ? 'no special tokens' : prefix.length === 0 ? 'nothing before' : 'nothing after';
    throw new ModelError(`tokenizer ${path} adds ${what} around a text, but ALBERT expects [CLS] text [SEP]`, hint);
  }
  for (const [key, ids, where] of [['cls_token', prefix, 'first'], ['sep_token', suffix, 'last']] as const) {
    const name = tokenName(config[key]);
    if (name === undefined) continue;
    const id = tok.get_vocab().get(name);
    const got = where === 'first' ? ids[0] : ids[ids.length - 1];
    if (id !== got) {
      throw new ModelError(`tokenizer ${path} puts id ${got} ${where} around a text, but tokenizer_config.json's ${key} ${name} is ${id === undefined ? 'not in the vocabulary' : `id ${id}`}`, hint);
    }
  }
}

export function loadTokenizer(tokenizerPath: string, configPath: string | undefined): TextTokenizer {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(tokenizerPath, 'utf8'));
  } catch (err) {
    throw new ModelError(`tokenizer ${tokenizerPath} is not valid JSON: ${errorMessage(err)}`, 'the checkpoint folder looks damaged; fetch or export it again', { cause: err });
  }
  const config = configPath ? readJson(configPath, 'tokenizer config') : {};
  let tok: Tokenizer;
  let className: string;
  try {
    ({ tokenizer: tok, className } = instantiateTokenizer(json, config));
  } catch (err) {
    throw new ModelError(`tokenizer ${tokenizerPath} cannot be loaded: ${errorMessage(err)}`, 'the checkpoint folder looks damaged; fetch or export it again', { cause: err });
  }
  const { prefix, suffix } = specialsAround(tok);
  checkSpecials(tok, tokenizerPath, config, prefix, suffix);
  const vocab = tok.get_vocab();
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const model = (json.model ?? {}) as { type?: string; vocab?: unknown };
  const kind = model.type ?? (Array.isArray(model.vocab) ? 'Unigram' : 'unknown');
  const maxLength = Number(config.model_max_length);
  // Python writes int(1e30) when a tokenizer has no limit.
  const modelMaxLength = Number.isFinite(maxLength) && maxLength > 0 && maxLength < 1e9 ? maxLength : undefined;
  const padId = tok.pad_token_id ?? 0;
  return {
    kind,
    className,
    vocabSize: vocab.size,
    maxId,
    modelMaxLength,
    padId: typeof padId === 'number' ? padId : 0,
    prefix,
    suffix,
    encode: (text: string) => tok.encode(text, { add_special_tokens: false }),
  };
}
