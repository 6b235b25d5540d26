// vocab.txt files shaped like the ones Chinese ALBERT checkpoints ship (bert-base-chinese's
// layout: [PAD], [unused1..99], [UNK] [CLS] [SEP] [MASK] at 100-103, then punctuation, digits,
// Latin pieces with and without "##", CJK characters), for the tests and the benchmark.

const CJK = '我爱编程使快乐是一种艺术的了在人有这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~，。！？、；：“”‘’（）《》…';
const WORDS = ['hello', 'world', 'albert', 'model', 'bert', 'cafe', 'naive', 'the', 'un', '##aff', '##able', 'ο', '##δ', '##ο', '##σ', '##ς'];
/** What a cased vocabulary adds (ckiplab ships bert-base-chinese's, used with do_lower_case false). */
const CASED_WORDS = ['Hello', 'World', 'ALBERT', 'café', 'naïve', 'Ο', '##Δ', '##Ο', '##Σ'];

/** The lines of a vocab.txt, joined with "\n" and ending in one. */
export function chineseBertVocab({ cased = false }: { cased?: boolean } = {}): string {
  const lines = ['[PAD]', ...Array.from({ length: 99 }, (_, i) => `[unused${i + 1}]`), '[UNK]', '[CLS]', '[SEP]', '[MASK]', '<S>', '<T>'];
  const seen = new Set(lines);
  const add = (token: string) => {
    if (!seen.has(token)) {
      seen.add(token);
      lines.push(token);
    }
  };
  for (const c of PUNCTUATION) add(c);
  const alnum = [...'0123456789abcdefghijklmnopqrstuvwxyz', ...(cased ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' : '')];
  for (const c of alnum) add(c);
  for (const c of alnum) add(`##${c}`);
  for (const w of WORDS) add(w);
  if (cased) for (const w of CASED_WORDS) add(w);
  for (const c of CJK) add(c);
  return lines.join('\n') + '\n';
}
