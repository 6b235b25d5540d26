// Seeded synthetic corpora. Words come from the fixture tokenizer's vocabulary, so every word is
// one token and a line's token count follows its word count (plus punctuation and [CLS]/[SEP]).
import { ENGLISH_WORD_LIST } from '../tools/fixture-builder/tokenizers.js';
import { uniform } from '../tools/fixture-builder/weights.js';

function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    let word = ENGLISH_WORD_LIST[Math.floor(random() * ENGLISH_WORD_LIST.length)];
    if (i === 0) word = word[0].toUpperCase() + word.slice(1);
    if (i < words - 1 && random() < 0.08) word += ',';
    out.push(word);
  }
  return `${out.join(' ')}.`;
}

function paragraph(random: () => number, words: number): string {
  const sentences: string[] = [];
  for (let left = words; left > 0; ) {
    const n = Math.min(left, 8 + Math.floor(random() * 20));
    sentences.push(sentence(random, n));
    left -= n;
  }
  return sentences.join(' ');
}

export interface MixedCorpusShape {
  lines: number;
  /** Share of lines that are paragraphs rather than short sentences. */
  longShare: number;
  shortWords: [number, number];
  longWords: [number, number];
}

/**
 * Short lines (5-40 words) with a tail of paragraphs (80-440 words, up to ~500 tokens),
 * shuffled together: the shape of real scraped or user-written text.
 */
export const MIXED: Omit<MixedCorpusShape, 'lines'> = { longShare: 0.1, shortWords: [5, 40], longWords: [80, 440] };

export function mixedCorpus(lines: number, seed = 2026, shape = MIXED): string[] {
  const random = uniform(seed);
  const between = ([lo, hi]: [number, number]) => lo + Math.floor(random() * (hi - lo + 1));
  return Array.from({ length: lines }, () =>
    random() < shape.longShare ? paragraph(random, between(shape.longWords)) : sentence(random, between(shape.shortWords)),
  );
}

/** Short lines (3-12 words) for the memory runs, where the row count is what grows. */
export function shortLines(lines: number, seed = 7): string[] {
  const random = uniform(seed);
  return Array.from({ length: lines }, () => sentence(random, 3 + Math.floor(random() * 10)));
}
