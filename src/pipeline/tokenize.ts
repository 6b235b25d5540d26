// Tokenization with Hugging Face Python's truncation: the text's tokens are cut from the right
// and the special tokens around them stay. (Transformers.js truncates after adding them and so
// drops the trailing [SEP]; we assemble the sequence ourselves instead.)
import type { TextTokenizer } from '../model/tokenizer.js';

export interface Tokenized {
  /** Token ids including special tokens, at most maxLength long. */
  ids: Int32Array;
  /** Whether text tokens were dropped to fit maxLength. */
  truncated: boolean;
}

export function tokenize(tokenizer: TextTokenizer, text: string, maxLength: number): Tokenized {
  const content = tokenizer.encode(text);
  const { prefix, suffix } = tokenizer;
  const room = maxLength - prefix.length - suffix.length;
  const kept = Math.min(content.length, room);
  const ids = new Int32Array(prefix.length + kept + suffix.length);
  ids.set(prefix, 0);
  for (let i = 0; i < kept; i++) ids[prefix.length + i] = content[i];
  ids.set(suffix, prefix.length + kept);
  return { ids, truncated: kept < content.length };
}
