// tokenizer.json files in the two shapes real ALBERT checkpoints ship:
// - English (albert-base-v2): SentencePiece Unigram, with its normalizer chain
//   (`` and '' -> ", NFKD, strip accents, lowercase, Precompiled), WhitespaceSplit + Metaspace,
//   and the [CLS] $A [SEP] template;
// - Chinese (albert_chinese_*): BERT WordPiece with BertNormalizer splitting CJK characters.
// The vocabularies are small, but every component is the real one.

const ENGLISH_WORDS = `the of and to a in is it you that he was for on are with as i his they be at one have this
from or had by not word but what some we can out other were all there when up use your how said an each she which
do their time if will way about many then them write would like so these her long make thing see him two has look
more day could go come did number sound no most people my over know water than call first who may down side been now
find any new work part take get place made live where after back little only round man year came show every good me
give our under name very through just form sentence great think say help low line differ turn cause much mean before
move right boy old too same tell does set three want air well also play small end put home read hand port large spell
add even land here must big high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let thought city tree cross farm hard start might
story saw far sea draw left late run don't while press close night real life few north open seem together next white
children begin got walk example ease paper group always music those both mark often letter until mile river car feet care
second book carry took science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face
wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog family direct pose
leave song measure door product black short numeral class wind question happen complete ship area half rock order fire
south problem piece told knew pass since top whole king space heard best hour better true during hundred five remember step
early hold west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward
war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice voice unit
power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct able pound
done beauty drive stood contain front teach week final gave green oh quick develop ocean warm free minute strong special
mind behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide surface
deep moon island foot system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check
game shape equate hot miss brought heat snow tire bring yes distant fill east paint language among hello embedding embeddings
model sentence text token tokens albert vector language café naïve résumé`;

/** The whole words of the English vocabulary: text made of them tokenizes without <unk>. */
export const ENGLISH_WORD_LIST: readonly string[] = [...new Set(ENGLISH_WORDS.split(/\s+/).filter(Boolean))];

const ENGLISH_SUFFIXES = ['s', 'ed', 'ing', 'ly', 'er', 'est', 'tion', 'ment', 'ness', 'able', 're', 'un', 'in', 'es', 'al'];

const SPECIALS = ['<pad>', '<unk>', '[CLS]', '[SEP]', '[MASK]'];

function addedTokens(tokens: string[]) {
  return tokens.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

function template(cls: string, sep: string, clsId: number, sepId: number) {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
    pair: [
      { SpecialToken: { id: cls, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: sep, type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } },
      { SpecialToken: { id: sep, type_id: 1 } },
    ],
    special_tokens: {
      [cls]: { id: cls, ids: [clsId], tokens: [cls] },
      [sep]: { id: sep, ids: [sepId], tokens: [sep] },
    },
  };
}

/**
 * A SentencePiece precompiled charsmap that maps nothing: a double-array trie of 256 empty units
 * (every lookup misses) and no replacement strings. Real checkpoints carry an NFKC table here;
 * Transformers.js applies NFKC itself instead of reading the table, and Rust tokenizers reads
 * this one as the identity, so both libraries load the file.
 */
function identityCharsmap(): string {
  const units = 256;
  const blob = Buffer.alloc(4 + units * 4);
  blob.writeUInt32LE(units * 4, 0);
  return blob.toString('base64');
}

export function englishUnigramTokenizer(): { json: object; vocabSize: number } {
  const words = ENGLISH_WORD_LIST;
  const chars = [...new Set([...'abcdefghijklmnopqrstuvwxyz0123456789', ...`.,;:!?'"()-[]/&%$#@*+=<>_`])];
  // Unigram scores are log-probabilities: whole words outscore the pieces that spell them,
  // so Viterbi prefers words, then suffixes, then single characters.
  const vocab: Array<[string, number]> = SPECIALS.map((t) => [t, 0]);
  const seen = new Set<string>(SPECIALS);
  const push = (piece: string, score: number) => {
    if (!seen.has(piece)) {
      seen.add(piece);
      vocab.push([piece, score]);
    }
  };
  push('▁', -3);
  words.forEach((w, i) => push(`▁${w.normalize('NFKD').replace(/\p{Mn}/gu, '')}`, -5 - i / 1000));
  ENGLISH_SUFFIXES.forEach((s, i) => push(s, -7 - i / 100));
  chars.forEach((c, i) => {
    push(`▁${c}`, -9 - i / 100);
    push(c, -10 - i / 100);
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(SPECIALS),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Replace', pattern: { String: '``' }, content: '"' },
        { type: 'Replace', pattern: { String: "''" }, content: '"' },
        { type: 'NFKD' },
        { type: 'StripAccents' },
        { type: 'Lowercase' },
        { type: 'Precompiled', precompiled_charsmap: identityCharsmap() },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }],
    },
    post_processor: template('[CLS]', '[SEP]', 2, 3),
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 1, vocab, byte_fallback: false },
  };
  return { json, vocabSize: vocab.length };
}

export const ENGLISH_TOKENIZER_CONFIG = {
  tokenizer_class: 'AlbertTokenizer',
  do_lower_case: true,
  remove_space: true,
  keep_accents: false,
  bos_token: '[CLS]',
  eos_token: '[SEP]',
  unk_token: '<unk>',
  sep_token: '[SEP]',
  pad_token: '<pad>',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  model_max_length: 512,
};

const CHINESE_CHARS = `我爱编程使快乐是一种艺术的了在人有这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后
小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音`;

export function chineseWordPieceTokenizer(): { json: object; vocabSize: number } {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const pieces = [...specials];
  const seen = new Set(pieces);
  const push = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      pieces.push(p);
    }
  };
  for (const c of '，。！？、；：“”‘’（）《》,.!?;:()"\'-') push(c);
  for (const c of '0123456789abcdefghijklmnopqrstuvwxyz') push(c);
  for (const w of ['hello', 'world', 'albert', 'model', 'bert', 'ai']) push(w);
  for (const s of ['##s', '##ing', '##ed', '##er', '##0', '##1', '##2', '##3', '##4', '##5', '##6', '##7', '##8', '##9']) push(s);
  for (const c of 'abcdefghijklmnopqrstuvwxyz') push(`##${c}`);
  for (const c of CHINESE_CHARS.replace(/\s/g, '')) push(c);
  const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(specials),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template('[CLS]', '[SEP]', 2, 3),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  return { json, vocabSize: pieces.length };
}

export const CHINESE_TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  tokenize_chinese_chars: true,
  strip_accents: null,
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  model_max_length: 512,
};
