// tokenizer.json for an ALBERT checkpoint that ships only spiece.model, with the semantics of
// transformers' AlbertConverter (convert_slow_tokenizer.py, on top of SpmConverter) where they
// give the ids of the slow AlbertTokenizer, and the slow tokenizer's where they do not:
//
// - Unigram vocabulary with the model's scores, except pieces that end in a digit and a comma,
//   which lose 100 (check_number_comma): the slow tokenizer re-splits such pieces ("▁9," ->
//   "▁9" ","), the penalty makes Viterbi avoid them instead.
// - Normalizer in preprocess_text's order: `` and '' -> ", NFKD + strip accents unless
//   keep_accents, lowercase when do_lower_case, the model's Precompiled charsmap, runs of spaces
//   collapsed.
// - Whitespace: the slow tokenizer strips and collapses it (preprocess_text's remove_space, and
//   sentencepiece's remove_extra_whitespaces). The pre-tokenizer splits on whitespace before
//   Metaspace (as the converter did when albert-base-v2's tokenizer.json was made): Metaspace
//   alone leaves a trailing "▁" token for "text " in Transformers.js, which the slow tokenizer
//   never gives.
//
// Where this departs from the converter, on purpose:
// - USER_DEFINED pieces (ALBERT's ( ) " - . – £ €) stay plain vocabulary entries instead of
//   added tokens. sentencepiece matches them inside the text ("a.b" -> ▁a . b); as added tokens
//   they cut the text into sections that each get a "▁" prefix ("a.b" -> ▁a . ▁b).
// - Σ is lowered to σ before lowercasing: the slow tokenize() lowercases one character at a
//   time, so it never produces the word-final ς that a whole-string lowercase does.
// - With remove_space, the characters Python's str.split() counts as whitespace but neither
//   Transformers.js nor sentencepiece's nmt_nfkc do (U+001C-U+001F, U+0085) become spaces.
//
// What Transformers.js 4.3.2 (@huggingface/tokenizers 0.2.0) does with this file, where the slow
// tokenizer differs (the tests mark the first three):
// - Precompiled: the charsmap is not read; it deletes the ASCII controls, maps nmt_nfkc's extra
//   whitespace to spaces and applies NFKC (except U+FF5E), i.e. the nmt_nfkc table every ALBERT
//   model carries. A model with another table (identity, nfkc_cf) would tokenize differently.
// - StripAccents drops every \p{M}; the slow tokenizer drops characters of non-zero combining
//   class, so enclosing marks and spacing vowel signs (class 0) survive there.
// - "▁9," style pieces whose re-encoded digits are no piece without "▁" are <unk> in the slow
//   tokenizer; the -100 penalty gives other pieces instead.
// - Unknown characters cost (lowest score of all pieces) - 10, sentencepiece's (lowest NORMAL
//   score) - 10; with the -100 penalised pieces this only changes which of several segmentations
//   around an unknown character wins. byte_fallback is carried over but not honoured.
import { ModelError } from '../errors.js';
import { PIECE_TYPE, type SentencePieceModel } from './sentencepiece.js';
import {
  addedToken,
  addedTokensDecoder,
  clsSepTemplate,
  missingSpecial,
  TokenizerOptions,
  type AddedTokenSpec,
  type ConvertContext,
  type TokenizerFiles,
} from './tokenizer-files.js';

const SPIECE_UNDERLINE = '▁';

/**
 * check_number_comma's complement: a piece of two or more characters ending in a digit and a
 * comma. Python's str.isdigit also counts digits such as "²", but NFKC-normalized vocabularies
 * (every ALBERT one) hold only their plain forms.
 */
export function endsWithNumberComma(piece: string): boolean {
  const chars = Array.from(piece);
  return chars.length >= 2 && chars[chars.length - 1] === ',' && /^\p{Nd}$/u.test(chars[chars.length - 2]);
}

const replace = (pattern: { String: string } | { Regex: string }, content: string) => ({ type: 'Replace', pattern, content });

/** The characters str.split() treats as whitespace that later steps would drop or keep. */
const PYTHON_ONLY_WHITESPACE = '[\u001c-\u001f\u0085]';

export function albertTokenizerFiles(spm: SentencePieceModel, checkpointConfig: Record<string, unknown> | undefined, context: ConvertContext): TokenizerFiles {
  const options = new TokenizerOptions(checkpointConfig, context.configSource ?? 'tokenizer_config.json');
  const doLowerCase = options.bool('do_lower_case', true);
  const removeSpace = options.bool('remove_space', true);
  const keepAccents = options.bool('keep_accents', false);
  // AlbertTokenizer's defaults.
  const specials = {
    bos_token: options.token('bos_token', '[CLS]'),
    eos_token: options.token('eos_token', '[SEP]'),
    unk_token: options.token('unk_token', '<unk>'),
    sep_token: options.token('sep_token', '[SEP]'),
    pad_token: options.token('pad_token', '<pad>'),
    cls_token: options.token('cls_token', '[CLS]'),
    mask_token: options.token('mask_token', '[MASK]'),
  };

  const ids = new Map(spm.pieces.map((p, id) => [p.piece, id]));
  const idOf = (role: keyof typeof specials) => {
    const id = ids.get(specials[role]);
    if (id === undefined) throw missingSpecial(context.source, specials[role], role);
    return id;
  };
  if (spm.trainer.unkId !== idOf('unk_token')) {
    throw new ModelError(
      `${context.source}: unk_token ${JSON.stringify(specials.unk_token)} is not the model's UNKNOWN piece ${JSON.stringify(spm.pieces[spm.trainer.unkId].piece)}`,
      'set unk_token in tokenizer_config.json to the UNKNOWN piece',
    );
  }
  const specialIds = new Map((Object.keys(specials) as (keyof typeof specials)[]).map((role) => [idOf(role), role]));

  // Control pieces are special added tokens (SpmConverter); so are the tokenizer's own special
  // tokens, which the slow tokenizer splits out of the text before sentencepiece sees it.
  const added: AddedTokenSpec[] = [];
  spm.pieces.forEach((p, id) => {
    if (p.type === PIECE_TYPE.control || specialIds.has(id)) {
      // AlbertTokenizer's mask token takes the space before it ("a [MASK]" -> a, [MASK]).
      added.push({ id, content: p.piece, lstrip: specialIds.get(id) === 'mask_token' });
    }
  });

  const normalizers: object[] = [];
  if (removeSpace) normalizers.push(replace({ Regex: PYTHON_ONLY_WHITESPACE }, ' '));
  normalizers.push(replace({ String: '``' }, '"'), replace({ String: "''" }, '"'));
  if (doLowerCase) normalizers.push(replace({ String: 'Σ' }, 'σ'));
  if (!keepAccents) normalizers.push({ type: 'NFKD' }, { type: 'StripAccents' });
  if (doLowerCase) normalizers.push({ type: 'Lowercase' });
  if (spm.normalizer.precompiledCharsmap.length > 0) {
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(spm.normalizer.precompiledCharsmap).toString('base64') });
  }
  normalizers.push(replace({ Regex: ' {2,}' }, ' '));

  const addPrefix = spm.normalizer.addDummyPrefix;
  const metaspace = { type: 'Metaspace', replacement: SPIECE_UNDERLINE, prepend_scheme: addPrefix ? 'always' : 'never', split: true };
  // Splitting on whitespace first would lose the "▁" between words when no word gets one.
  if (!addPrefix) normalizers.push({ type: 'Strip', strip_left: true, strip_right: true });
  const preTokenizer = addPrefix ? { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] } : metaspace;

  const clsId = idOf('cls_token');
  const sepId = idOf('sep_token');
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map(addedToken),
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: preTokenizer,
    post_processor: clsSepTemplate(specials.cls_token, clsId, specials.sep_token, sepId),
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: spm.trainer.unkId,
      vocab: spm.pieces.map((p) => [p.piece, endsWithNumberComma(p.piece) ? p.score - 100 : p.score]),
      byte_fallback: spm.trainer.byteFallback,
    },
  };

  const maskSpec = { content: specials.mask_token, lstrip: true, normalized: false, rstrip: false, single_word: false };
  const modelMaxLength = options.modelMaxLength(context.maxPositionEmbeddings);
  const outConfig = {
    tokenizer_class: 'AlbertTokenizer',
    do_lower_case: doLowerCase,
    remove_space: removeSpace,
    keep_accents: keepAccents,
    ...specials,
    ...(modelMaxLength === undefined ? {} : { model_max_length: modelMaxLength }),
    added_tokens_decoder: addedTokensDecoder(added),
  };
  return { tokenizer, tokenizerConfig: outConfig, specialTokensMap: { ...specials, mask_token: maskSpec } };
}
