// Writes SentencePiece `.model` files (ModelProto, src/sentencepiece_model.proto) the way
// spm_train leaves them, for the tests and the benchmark: pieces with scores and types, the
// trainer and normalizer specs, and a real precompiled charsmap (a darts-clone double-array trie
// over UTF-8 keys plus the NUL-terminated replacement strings, as sentencepiece's
// Builder::CompileCharsMap lays it out).
import { writeFileSync } from 'node:fs';
import { PIECE_TYPE, type SentencePiece, type SentencePieceModel } from '../../src/checkpoint/sentencepiece.js';
import { ProtoWriter } from '../../src/protobuf.js';
import { ENGLISH_WORD_LIST } from '../fixture-builder/tokenizers.js';

const utf8 = new TextEncoder();

export function sentencePieceModelBytes(model: SentencePieceModel): Uint8Array {
  const root = new ProtoWriter();
  for (const p of model.pieces) root.message(1, new ProtoWriter().string(1, p.piece).float(2, p.score).varint(3, p.type));
  const { trainer, normalizer } = model;
  const trainerSpec = new ProtoWriter().varint(3, trainer.modelType).varint(4, model.pieces.length);
  if (trainer.treatWhitespaceAsSuffix) trainerSpec.varint(24, true);
  // control_symbols (30) and user_defined_symbols (31) record what spm_train was told.
  for (const p of model.pieces) if (p.type === PIECE_TYPE.control) trainerSpec.string(30, p.piece);
  for (const p of model.pieces) if (p.type === PIECE_TYPE.userDefined) trainerSpec.string(31, p.piece);
  trainerSpec.varint(35, trainer.byteFallback).varint(40, trainer.unkId).varint(41, trainer.bosId).varint(42, trainer.eosId).varint(43, trainer.padId);
  root.message(2, trainerSpec);
  const normalizerSpec = new ProtoWriter().string(1, normalizer.name);
  if (normalizer.precompiledCharsmap.length > 0) normalizerSpec.bytes(2, normalizer.precompiledCharsmap);
  normalizerSpec.varint(3, normalizer.addDummyPrefix).varint(4, normalizer.removeExtraWhitespaces).varint(5, normalizer.escapeWhitespaces);
  root.message(3, normalizerSpec);
  return root.finish();
}

export function writeSentencePieceModel(path: string, model: SentencePieceModel): void {
  writeFileSync(path, sentencePieceModelBytes(model));
}

interface TrieNode {
  children: Map<number, TrieNode>;
  value?: number;
}

/**
 * A precompiled charsmap for `rules` (source -> replacement; "" deletes), laid out as darts-clone
 * lays a double array: node unit = label | has_leaf << 8 | offset << 10, where offset XOR the
 * node's position is its base, a value no other node uses; children sit at base ^ byte, the
 * leaf unit at base ^ 0 holds value | 1 << 31. An unused unit gets the label id ^ u for a base u
 * no node uses, so no node reaches it with a matching byte.
 */
export function precompiledCharsmap(rules: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const normalized: number[] = [];
  const valueOf = new Map<string, number>();
  for (const [, to] of rules) {
    if (!valueOf.has(to)) {
      valueOf.set(to, normalized.length);
      normalized.push(...utf8.encode(to), 0);
    }
  }
  const root: TrieNode = { children: new Map() };
  for (const [from, to] of rules) {
    let node = root;
    for (const byte of utf8.encode(from)) {
      let child = node.children.get(byte);
      if (!child) node.children.set(byte, (child = { children: new Map() }));
      node = child;
    }
    node.value = valueOf.get(to);
  }

  const units: number[] = [0];
  const fixed = new Set<number>([0]);
  const bases = new Set<number>();
  const queue: Array<[TrieNode, number]> = [[root, 0]];
  while (queue.length > 0) {
    const [node, pos] = queue.shift()!;
    const labels = [...node.children.keys()];
    if (node.value !== undefined) labels.push(0);
    // Bases from 256 on keep every child out of the root's block.
    let base = 256;
    while (bases.has(base) || labels.some((c) => fixed.has(base ^ c))) base++;
    if (base >= 1 << 21) throw new Error('charsmap: too many rules for the small-offset unit encoding');
    bases.add(base);
    for (const c of labels) fixed.add(base ^ c);
    units[pos] = (units[pos] | (node.value !== undefined ? 1 << 8 : 0) | ((pos ^ base) << 10)) >>> 0;
    if (node.value !== undefined) units[base] = (node.value | 0x80000000) >>> 0;
    for (const [c, child] of node.children) {
      units[base ^ c] = c;
      queue.push([child, base ^ c]);
    }
  }
  const size = (Math.floor(Math.max(...fixed) / 256) + 1) * 256;
  const trie = Buffer.alloc(size * 4);
  for (let block = 0; block < size; block += 256) {
    let unusedBase = block;
    while (bases.has(unusedBase)) unusedBase++;
    if (unusedBase >= block + 256) throw new Error('charsmap: a block with every base in use');
    for (let id = block; id < block + 256; id++) trie.writeUInt32LE(fixed.has(id) ? units[id] : (id ^ unusedBase) & 0xff, id * 4);
  }
  const header = Buffer.alloc(4);
  header.writeUInt32LE(trie.length, 0);
  return new Uint8Array(Buffer.concat([header, trie, Buffer.from(normalized)]));
}

/**
 * A sample of the real nmt_nfkc rules (sentencepiece Builder::BuildNmtNFKCMap plus
 * data/nmt_nfkc.tsv): the extra whitespace mapped to a space, ASCII control characters deleted,
 * some NFKC compatibility mappings, and decomposed letters composed. Tests keep to text these
 * rules cover: Transformers.js ignores the table and applies its own nmt_nfkc emulation.
 */
export const NMT_NFKC_SAMPLE: ReadonlyArray<readonly [string, string]> = [
  ...['\t', '\n', '\f', '\r', '\u00a0', '\u1680', '\u200b', '\u200e', '\u200f', '\u2028', '\u2029', '\u2581', '\u3000', '\ufeff', '\ufffd'].map(
    (c) => [c, ' '] as const,
  ),
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i))
    .filter((c) => !'\0\t\n\f\r'.includes(c))
    .concat(['\u007f', '\u008f', '\u009f'])
    .map((c) => [c, ''] as const),
  ['ﬁ', 'fi'],
  ['ﬂ', 'fl'],
  ['…', '...'],
  ['²', '2'],
  ['，', ','],
  ...Array.from('０１２３４５６７８９ＡＢＣＤＥＦａｂｃｄｅｆ', (c) => [c, c.normalize('NFKC')] as const),
  ...['e\u0301', 'e\u0300', 'E\u0301', 'a\u0300', 'i\u0308', 'u\u0308', 'o\u0308', 'c\u0327', 'n\u0303'].map((s) => [s, s.normalize('NFC')] as const),
];

// ALBERT's spm_train flags: --control_symbols=[CLS],[SEP],[MASK] --user_defined_symbols="(,),\",-,.,–,£,€"
// with <pad> 0 and <unk> 1.
const CONTROL_AND_UNKNOWN: SentencePiece[] = [
  { piece: '<pad>', score: 0, type: PIECE_TYPE.control },
  { piece: '<unk>', score: 0, type: PIECE_TYPE.unknown },
  { piece: '[CLS]', score: 0, type: PIECE_TYPE.control },
  { piece: '[SEP]', score: 0, type: PIECE_TYPE.control },
  { piece: '[MASK]', score: 0, type: PIECE_TYPE.control },
];
const USER_DEFINED = ['(', ')', '"', '-', '.', '–', '£', '€'];

/** Pieces around numbers with commas: what AlbertTokenizer re-splits ("▁1," -> "▁1" ","). */
const NUMBER_PIECES: Array<[string, number]> = [
  ['▁1,', -6.03],
  ['▁9,', -6.41],
  ['000,', -6.52],
  ['200,', -6.27],
  ['▁200', -6.88],
  ['000', -7.46],
  ['00', -8.07],
  [',', -4.11],
];

/** Lowercase Greek, for the word-final sigma that a whole-string lowercase would produce. */
const GREEK_PIECES: Array<[string, number]> = [
  ['▁οδο', -8.46],
  ['σ', -9.93],
  ['ς', -9.81],
];

const SUFFIXES = ['s', 'ed', 'ing', 'ly', 'er', 'est', 'tion', 'ment', 'ness', 'able', 're', 'un', 'in', 'es', 'al', 'he', 'quote'];

/**
 * An English Unigram piece set shaped like albert-base-v2's: <pad> <unk> [CLS] [SEP] [MASK],
 * the user-defined symbols, "▁", whole words (accent-stripped, plus café / naïve / résumé
 * with their accents for keep_accents), number-comma pieces, a few Greek ones, suffixes, and every ASCII letter,
 * digit and punctuation mark with and without "▁". Scores are spaced so that no two
 * segmentations of a test text tie.
 */
export function englishAlbertPieces(): SentencePiece[] {
  const pieces: SentencePiece[] = [...CONTROL_AND_UNKNOWN];
  const seen = new Set(pieces.map((p) => p.piece));
  const add = (piece: string, score: number, type: SentencePiece['type'] = PIECE_TYPE.normal) => {
    if (!seen.has(piece)) {
      seen.add(piece);
      pieces.push({ piece, score, type });
    }
  };
  for (const s of USER_DEFINED) add(s, 0, PIECE_TYPE.userDefined);
  add('▁', -2.71);
  ENGLISH_WORD_LIST.forEach((w, i) => add(`▁${w.normalize('NFKD').replace(/\p{M}/gu, '')}`, -5 - i * 0.0173));
  for (const w of ENGLISH_WORD_LIST) if (w !== w.normalize('NFKD').replace(/\p{M}/gu, '')) add(`▁${w}`, -9.37);
  for (const [piece, score] of [...NUMBER_PIECES, ...GREEK_PIECES]) add(piece, score);
  SUFFIXES.forEach((s, i) => add(s, -7.3 - i * 0.031));
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789', ...`;:!?'()[]/&%$#@*+=<>_\``];
  chars.forEach((c, i) => {
    add(`▁${c}`, -9.1 - i * 0.0117);
    add(c, -10.2 - i * 0.0131);
  });
  return pieces;
}

/** albert-base-v2's model settings around `pieces` (default: englishAlbertPieces()). */
export function englishAlbertModel(pieces: SentencePiece[] = englishAlbertPieces()): SentencePieceModel {
  return {
    pieces,
    trainer: { modelType: 1, unkId: 1, bosId: -1, eosId: -1, padId: 0, byteFallback: false, treatWhitespaceAsSuffix: false },
    normalizer: {
      name: 'nmt_nfkc',
      precompiledCharsmap: precompiledCharsmap(NMT_NFKC_SAMPLE),
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    },
  };
}
