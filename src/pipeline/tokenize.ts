// Tokenization with Hugging Face Python's truncation: the text's tokens are cut from the right
// and the special tokens around them stay. (Transformers.js truncates after adding them and so
// drops the trailing [SEP]; we assemble the sequence ourselves instead.)
//
// Work per text is bounded by what can be kept, not by the text's size: a long text is tokenized
// a prefix at a time, cut at whitespace, doubling the prefix until it yields more tokens than fit.
// Both tokenizer families split words at whitespace before anything else (Metaspace after
// WhitespaceSplit; BertPreTokenizer), so the tokens of a prefix cut at whitespace are exactly the
// first tokens of the whole text.
import type { TextTokenizer } from '../model/tokenizer.js';

export interface Tokenized {
  /** Token ids including special tokens, at most maxLength long. */
  ids: Int32Array;
  /** Whether text tokens were dropped to fit maxLength. */
  truncated: boolean;
}

/** Characters per token of the first prefix tried: ordinary prose runs at 3-6. */
const FIRST_CHARS_PER_TOKEN = 8;
/**
 * Characters per token past which a text is not read further: only pathological text (words
 * of hundreds of characters, long whitespace runs) gets there. It also keeps every call well
 * below the ~200,000-character word on which Transformers.js 4.3 overflows its stack.
 */
const MAX_CHARS_PER_TOKEN = 128;
/**
 * Extra tokens a prefix cut inside a word must yield beyond those kept: the last word's pieces
 * may differ from the whole word's, and a Unigram segmentation settles within a few pieces.
 */
const MID_WORD_MARGIN = 64;

/** Characters of a text worth reading for `maxLength` tokens. */
export function textBudget(maxLength: number): number {
  return maxLength * MAX_CHARS_PER_TOKEN;
}

/** The prefix of `text` up to `length` characters, cut at whitespace when there is some in its second half. */
function prefixAt(text: string, length: number): { text: string; midWord: boolean } {
  for (let i = length; i > length / 2; i--) {
    if (/\s/.test(text[i])) return { text: text.slice(0, i), midWord: false };
  }
  // No whitespace near the end: cut between characters, never inside a surrogate pair.
  const code = text.charCodeAt(length - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? length - 1 : length;
  return { text: text.slice(0, end), midWord: true };
}

/**
 * Content tokens of `text` (no special tokens): all of them, or at least `room + 1` exact first
 * ones, or, for pathological text, those of its first textBudget(maxLength) characters.
 */
function contentTokens(tokenizer: TextTokenizer, text: string, room: number, maxLength: number): { ids: number[]; partial: boolean } {
  const budget = textBudget(maxLength);
  for (let length = maxLength * FIRST_CHARS_PER_TOKEN; ; length *= 2) {
    if (length >= text.length) return { ids: tokenizer.encode(text), partial: false };
    const prefix = prefixAt(text, Math.min(length, budget));
    const ids = tokenizer.encode(prefix.text);
    if (ids.length > room + (prefix.midWord ? MID_WORD_MARGIN : 0) || length >= budget) return { ids, partial: true };
  }
}

/** Characters tokenized per call when a whole text is wanted: well below Transformers.js' limit. */
const SEGMENT = 1 << 16;

/**
 * Every content token of `text` (no special tokens, nothing dropped), for --overflow chunk and
 * error: a long text is tokenized a segment at a time, each cut at whitespace, which for the
 * same reason as above gives the tokens of the whole text.
 */
export function allContentTokens(tokenizer: TextTokenizer, text: string): number[] {
  if (text.length <= SEGMENT) return tokenizer.encode(text);
  const ids: number[] = [];
  for (let start = 0; start < text.length; ) {
    const rest = text.slice(start, start + SEGMENT + 1);
    const piece = rest.length <= SEGMENT ? rest : prefixAt(rest, SEGMENT).text;
    for (const id of tokenizer.encode(piece)) ids.push(id);
    start += piece.length;
  }
  return ids;
}

/**
 * `cut`: the text is only the start of the record (a line the reader did not read in full), so
 * the record counts as truncated whatever its tokens.
 */
export function tokenize(tokenizer: TextTokenizer, text: string, maxLength: number, cut = false): Tokenized {
  const { prefix, suffix } = tokenizer;
  const room = maxLength - prefix.length - suffix.length;
  const { ids: content, partial } = contentTokens(tokenizer, text, room, maxLength);
  const kept = Math.min(content.length, room);
  const ids = new Int32Array(prefix.length + kept + suffix.length);
  ids.set(prefix, 0);
  for (let i = 0; i < kept; i++) ids[prefix.length + i] = content[i];
  ids.set(suffix, prefix.length + kept);
  return { ids, truncated: cut || partial || kept < content.length };
}
