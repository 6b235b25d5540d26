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

export function loadTokenizer(tokenizerPath: string, configPath: string | undefined): TextTokenizer {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(tokenizerPath, 'utf8'));
  } catch (err) {
    throw new ModelError(`tokenizer ${tokenizerPath} is not valid JSON: ${errorMessage(err)}`, 'the checkpoint folder looks damaged; fetch or export it again');
  }
  const config = configPath ? readJson(configPath, 'tokenizer config') : {};
  let tok: Tokenizer;
  let className: string;
  try {
    ({ tokenizer: tok, className } = instantiateTokenizer(json, config));
  } catch (err) {
    throw new ModelError(`tokenizer ${tokenizerPath} cannot be loaded: ${errorMessage(err)}`);
  }
  const { prefix, suffix } = specialsAround(tok);
  const model = (json.model ?? {}) as { type?: string; vocab?: unknown };
  const vocab = model.vocab;
  const kind = model.type ?? (Array.isArray(vocab) ? 'Unigram' : 'unknown');
  const maxLength = Number(config.model_max_length);
  // Python writes int(1e30) when a tokenizer has no limit.
  const modelMaxLength = Number.isFinite(maxLength) && maxLength > 0 && maxLength < 1e9 ? maxLength : undefined;
  const padId = tok.pad_token_id ?? 0;
  return {
    kind,
    className,
    vocabSize: tok.get_vocab().size,
    modelMaxLength,
    padId: typeof padId === 'number' ? padId : 0,
    prefix,
    suffix,
    encode: (text: string) => tok.encode(text, { add_special_tokens: false }),
  };
}
