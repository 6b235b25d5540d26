// tokenizer.json for a Chinese ALBERT checkpoint that ships only vocab.txt (BertTokenizer), with
// the semantics of transformers' BertConverter where they give the slow BertTokenizer's ids, and
// the slow tokenizer's where they do not:
//
// - WordPiece with "##", max_input_chars_per_word 100, the vocabulary's [UNK]/[CLS]/[SEP] ids
//   (bert-base-chinese's are 100/101/102, not the 2/3 of English ALBERT).
// - BertNormalizer (clean_text, CJK splitting, strip_accents null = follow lowercasing,
//   lowercase), BertPreTokenizer, the [CLS] $A [SEP] template, WordPiece decoder.
// - Added on purpose: Σ -> σ before lowercasing (the slow tokenize() lowercases one character at
//   a time, so never to a word-final ς), and NFC when accents are kept (the slow BasicTokenizer
//   composes the text before splitting it; with accents stripped NFC changes nothing).
//
// Where Transformers.js 4.3.2's BertNormalizer differs from the slow tokenizer (the tests mark
// it): it looks for CJK characters one UTF-16 unit at a time, so those outside the BMP (CJK
// Extension B on) get no spaces around them; and it keeps unassigned code points (\p{Cn}),
// which the slow _is_control removes.
import { ModelError } from '../errors.js';
import { addedToken, addedTokensDecoder, clsSepTemplate, missingSpecial, TokenizerOptions, type ConvertContext, type TokenizerFiles } from './tokenizer-files.js';

const HINT = 'the checkpoint folder looks damaged; fetch vocab.txt again';

/**
 * vocab.txt as BertTokenizer's load_vocab reads it: UTF-8 (a BOM stays part of the first token),
 * lines ended by \n, \r\n or \r (Python's universal newlines), token = line, id = line number;
 * a token listed twice keeps its last line number.
 */
export function parseVocabTxt(bytes: Uint8Array, file: string): Map<string, number> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new ModelError(`vocabulary ${file} is not valid UTF-8`, HINT, { cause: err });
  }
  const lines = text.split(/\r\n|\r|\n/);
  // readlines() yields no empty line after a final line break.
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => vocab.set(token, id));
  if (vocab.size === 0) throw new ModelError(`vocabulary ${file} is empty`, HINT);
  return vocab;
}

export function bertTokenizerFiles(vocabTxt: Uint8Array, checkpointConfig: Record<string, unknown> | undefined, context: ConvertContext): TokenizerFiles {
  const configFile = context.configSource ?? 'tokenizer_config.json';
  const options = new TokenizerOptions(checkpointConfig, configFile);
  const vocab = parseVocabTxt(vocabTxt, context.source);
  const lowercase = options.bool('do_lower_case', true);
  const chineseChars = options.bool('tokenize_chinese_chars', true);
  const stripAccents = options.boolOrNull('strip_accents');
  if (!options.bool('do_basic_tokenize', true)) {
    throw new ModelError(`tokenizer config ${configFile} sets do_basic_tokenize false, which no ALBERT tokenizer does and tokenizer.json cannot express`, 'remove do_basic_tokenize from the tokenizer config');
  }
  // BertTokenizer's defaults.
  const specials = {
    unk_token: options.token('unk_token', '[UNK]'),
    sep_token: options.token('sep_token', '[SEP]'),
    pad_token: options.token('pad_token', '[PAD]'),
    cls_token: options.token('cls_token', '[CLS]'),
    mask_token: options.token('mask_token', '[MASK]'),
  };
  const specialContents = new Set(Object.values(specials));
  const neverSplit = checkpointConfig?.never_split;
  if (Array.isArray(neverSplit) && neverSplit.some((t) => !specialContents.has(t))) {
    throw new ModelError(`tokenizer config ${configFile} lists never_split tokens, which tokenizer.json cannot express`, 'remove never_split from the tokenizer config');
  }

  const idOf = (role: keyof typeof specials) => {
    const id = vocab.get(specials[role]);
    if (id === undefined) throw missingSpecial(context.source, specials[role], role);
    return id;
  };
  const added = [...new Map((Object.keys(specials) as (keyof typeof specials)[]).map((role) => [idOf(role), specials[role]]))]
    .sort(([a], [b]) => a - b)
    .map(([id, content]) => ({ id, content }));

  const bertNormalizer = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: chineseChars, strip_accents: stripAccents, lowercase };
  const before: object[] = [];
  if (lowercase) before.push({ type: 'Replace', pattern: { String: 'Σ' }, content: 'σ' });
  if (!(stripAccents ?? lowercase)) before.push({ type: 'NFC' });

  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map(addedToken),
    normalizer: before.length ? { type: 'Sequence', normalizers: [...before, bertNormalizer] } : bertNormalizer,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: clsSepTemplate(specials.cls_token, idOf('cls_token'), specials.sep_token, idOf('sep_token')),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: specials.unk_token, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab) },
  };
  const modelMaxLength = options.modelMaxLength(context.maxPositionEmbeddings);
  const outConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: lowercase,
    do_basic_tokenize: true,
    never_split: null,
    tokenize_chinese_chars: chineseChars,
    strip_accents: stripAccents,
    ...specials,
    ...(modelMaxLength === undefined ? {} : { model_max_length: modelMaxLength }),
    added_tokens_decoder: addedTokensDecoder(added),
  };
  return { tokenizer, tokenizerConfig: outConfig, specialTokensMap: { ...specials } };
}
