// Truncation keeps [CLS]/[SEP] and cuts text tokens; the work per text is bounded by what can be
// kept, whatever the text's size, and gives the same first tokens as tokenizing the whole text.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TINY_EN, TINY_ZH } from '../../test/helpers.js';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.js';
import { textBudget, tokenize } from './tokenize.js';

/** A tokenizer that makes one token per whitespace-separated word and records what it was given. */
function wordTokenizer(): TextTokenizer & { calls: number[] } {
  const calls: number[] = [];
  return {
    kind: 'test',
    className: 'test',
    vocabSize: 10,
    maxId: 9,
    padId: 0,
    prefix: [2],
    suffix: [3],
    calls,
    encode(text: string) {
      calls.push(text.length);
      return text.split(/\s+/).filter(Boolean).map((w) => 5 + (w.length % 5));
    },
  };
}

const load = (dir: string) => loadTokenizer(join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'));

describe('tokenize', () => {
  it('keeps the special tokens and cuts text tokens from the right', () => {
    const t = wordTokenizer();
    expect(tokenize(t, 'a bb ccc', 8)).toEqual({ ids: Int32Array.from([2, 6, 7, 8, 3]), truncated: false });
    expect(tokenize(t, 'a bb ccc', 4)).toEqual({ ids: Int32Array.from([2, 6, 7, 3]), truncated: true });
    expect(tokenize(t, '', 4)).toEqual({ ids: Int32Array.from([2, 3]), truncated: false });
  });

  it('a record cut by the reader counts as truncated even when its tokens fit', () => {
    expect(tokenize(wordTokenizer(), 'a bb', 8, true)).toEqual({ ids: Int32Array.from([2, 6, 7, 3]), truncated: true });
  });

  it('reads a 50 MB text only as far as the kept tokens need', () => {
    const t = wordTokenizer();
    const text = 'word '.repeat(10_000_000);
    const { ids, truncated } = tokenize(t, text, 512);
    expect(ids.length).toBe(512);
    expect(truncated).toBe(true);
    // One prefix of 8 characters a token was enough: 4,096 characters, cut at the space before.
    expect(t.calls).toEqual([4094]);
  });

  it('doubles the prefix while it yields too few tokens, up to the budget, and stops there', () => {
    const t = wordTokenizer();
    // 101 characters a token: 63 tokens (62 kept, one to know there is more) need 6,363 characters.
    const { ids, truncated } = tokenize(t, `${'x'.repeat(100)} `.repeat(100_000), 64);
    // Prefixes of 512, 1,024, ... 8,192 characters, each cut at the last space before its end.
    expect(t.calls).toEqual([504, 1009, 2019, 4039, 8180]);
    expect(ids.length).toBe(64);
    expect(truncated).toBe(true);
    // 301 characters a token: the budget (64 x 128 characters) holds 27 words; they are what is embedded.
    const p = wordTokenizer();
    const pathological = tokenize(p, `${'x'.repeat(300)} `.repeat(100_000), 64);
    expect(Math.max(...p.calls)).toBeLessThanOrEqual(textBudget(64));
    expect(pathological.ids.length).toBe(2 + 27);
    expect(pathological.truncated).toBe(true);
    // A text with no whitespace at all is read up to the budget and marked truncated.
    const u = wordTokenizer();
    expect(tokenize(u, 'y'.repeat(10_000_000), 64).truncated).toBe(true);
    expect(u.calls.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2 * textBudget(64));
  });

  it.each([
    ['English (Unigram)', TINY_EN, 'the quick brown fox jumps over the lazy dog, café résumé 1,000 ``quoted\'\' '],
    ['Chinese (WordPiece)', TINY_ZH, '我爱编程，这是一种艺术。hello world 我们 '],
  ])('%s: the first tokens of a long text are those of the whole text', (_name, dir, unit) => {
    const tokenizer = load(dir);
    for (const maxLength of [16, 128]) {
      // 40x the first prefix: long enough to take the prefix path, short enough to tokenize whole.
      const text = unit.repeat(Math.ceil((maxLength * 8 * 40) / unit.length));
      const whole = tokenizer.encode(text);
      const room = maxLength - 2;
      const { ids, truncated } = tokenize(tokenizer, text, maxLength);
      expect(truncated).toBe(true);
      expect(Array.from(ids)).toEqual([...tokenizer.prefix, ...whole.slice(0, room), ...tokenizer.suffix]);
    }
  });

  it('Chinese text without spaces: a cut between characters gives the same first tokens', () => {
    const tokenizer = load(TINY_ZH);
    const text = '我爱编程这是一种艺术'.repeat(2000);
    const { ids } = tokenize(tokenizer, text, 64);
    expect(Array.from(ids)).toEqual([...tokenizer.prefix, ...tokenizer.encode(text.slice(0, 200)).slice(0, 62), ...tokenizer.suffix]);
  });
});
