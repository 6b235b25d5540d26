// What the two tokenizer converters share: the three files a Hugging Face tokenizer folder holds,
// tokenizer_config.json options read the way the slow Python tokenizers read their kwargs, and
// the tokenizer.json pieces (added tokens, the [CLS] $A [SEP] template) in the shape the Rust
// `tokenizers` library serializes them.
import { ModelError } from '../errors.js';

/** tokenizer.json, tokenizer_config.json and special_tokens_map.json, ready for JSON.stringify. */
export interface TokenizerFiles {
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  specialTokensMap: Record<string, unknown>;
}

export interface ConvertContext {
  /** The vocabulary file (spiece.model / vocab.txt), named in errors. */
  source: string;
  /** The checkpoint's tokenizer_config.json, named in errors about its options. */
  configSource?: string;
  /** config.json max_position_embeddings: the model_max_length when tokenizer_config has none. */
  maxPositionEmbeddings?: number;
}

/** transformers writes int(1e30) for "no limit"; src/model/tokenizer.ts reads 1e9+ the same way. */
const NO_LIMIT = 1e9;

/** The checkpoint's tokenizer_config.json options, each with the slow tokenizer's default. */
export class TokenizerOptions {
  private readonly config: Record<string, unknown>;
  constructor(
    config: Record<string, unknown> | undefined,
    private readonly file: string,
  ) {
    this.config = config ?? {};
  }

  private wrong(key: string, expected: string): ModelError {
    return new ModelError(`tokenizer config ${this.file}: ${key} is ${JSON.stringify(this.config[key])}, expected ${expected}`, `fix ${key} in ${this.file} or remove it to use the default`);
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw this.wrong(key, 'true or false');
    return value;
  }

  /** A tri-state option such as BertTokenizer's strip_accents (null = follow lowercasing). */
  boolOrNull(key: string): boolean | null {
    const value = this.config[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'boolean') throw this.wrong(key, 'true, false or null');
    return value;
  }

  /** A special token, written as a string or as a serialized AddedToken ({content, ...}). */
  token(key: string, fallback: string): string {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'string' && value) return value;
    if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string' && (value as { content: string }).content) {
      return (value as { content: string }).content;
    }
    throw this.wrong(key, 'a token string');
  }

  /** model_max_length when it is a real limit, else the model's position count. */
  modelMaxLength(maxPositionEmbeddings: number | undefined): number | undefined {
    const value = this.config.model_max_length;
    if (value !== undefined && value !== null) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw this.wrong('model_max_length', 'a positive integer');
      if (value < NO_LIMIT) return value;
    }
    return maxPositionEmbeddings;
  }
}

export interface AddedTokenSpec {
  id: number;
  content: string;
  lstrip?: boolean;
}

/** An added_tokens entry: specials are matched on the raw text, never normalized. */
export function addedToken({ id, content, lstrip = false }: AddedTokenSpec) {
  return { id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true };
}

/** tokenizer_config.json's added_tokens_decoder, as transformers writes it. */
export function addedTokensDecoder(tokens: readonly AddedTokenSpec[]): Record<string, unknown> {
  return Object.fromEntries(
    tokens.map(({ id, content, lstrip = false }) => [String(id), { content, lstrip, normalized: false, rstrip: false, single_word: false, special: true }]),
  );
}

/** `[CLS]:0 $A:0 [SEP]:0` and `[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1` with the tokens' own ids. */
export function clsSepTemplate(cls: string, clsId: number, sep: string, sepId: number) {
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
    pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
    special_tokens: {
      [cls]: { id: cls, ids: [clsId], tokens: [cls] },
      [sep]: { id: sep, ids: [sepId], tokens: [sep] },
    },
  };
}

export function missingSpecial(source: string, token: string, role: string): ModelError {
  return new ModelError(`${source} has no ${role} token ${JSON.stringify(token)}`, `set ${role} in tokenizer_config.json to a token the vocabulary has`);
}
