// Independent references for the slow Python tokenizers that the converted tokenizer.json files
// must reproduce, written from their sources and sharing no code with src/checkpoint:
// - transformers 4.x PreTrainedTokenizer.tokenize (special tokens kept, everything else
//   lowercased one character at a time when do_lower_case, the added-token split, lstrip);
// - AlbertTokenizer (preprocess_text, _tokenize's digit-comma split, PieceToId) over
//   sentencepiece: normalizer.cc (the precompiled charsmap read as a darts-clone double array,
//   user-defined symbols passed through, remove_extra_whitespaces, dummy prefix, ▁ escaping),
//   unigram_model.cc's lattice Viterbi in float32 (min/max score over NORMAL pieces, UNK penalty
//   10, user-defined bonus, UNUSED skipped) and sentencepiece_processor.cc's merging of unknown
//   runs. The .model is read with protobufjs;
// - BertTokenizer (load_vocab, BasicTokenizer with NFC, WordpieceTokenizer).
import protobuf from 'protobufjs';

const MODEL_PROTO = protobuf
  .parse(
    `syntax = "proto2";
message ModelProto {
  message SentencePiece { optional string piece = 1; optional float score = 2; optional int32 type = 3 [default = 1]; }
  repeated SentencePiece pieces = 1;
  optional TrainerSpec trainer_spec = 2;
  optional NormalizerSpec normalizer_spec = 3;
}
message TrainerSpec { optional int32 unk_id = 40 [default = 0]; }
message NormalizerSpec {
  optional bytes precompiled_charsmap = 2;
  optional bool add_dummy_prefix = 3 [default = true];
  optional bool remove_extra_whitespaces = 4 [default = true];
  optional bool escape_whitespaces = 5 [default = true];
}`,
    { keepCase: true },
  )
  .root.lookupType('ModelProto');

// ---- Python string semantics -------------------------------------------------------------

/** str.split() / str.strip() whitespace. */
const PY_SPACE = '\t\n\u000b\f\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'u');
const pyStrip = (s: string) => s.replace(new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu'), '');
const pySplit = (s: string) => pyStrip(s).split(PY_SPACE_RUN).filter(Boolean);

/**
 * unicodedata.combining(c) != 0, for a character already in NFD: canonical ordering moves a mark
 * of class 1..239 in front of U+0345 (class 240, the highest), and leaves class 0 where it is.
 */
function isCombining(c: string): boolean {
  if (c === '\u0345') return true;
  return ('\u0345' + c).normalize('NFD') !== '\u0345' + c;
}

/** str.isdigit() for the characters a test can meet: decimal digits and digits like "²". */
const isDigit = (c: string) => /^\p{Nd}$/u.test(c) || (/^\p{No}$/u.test(c) && /^[0-9]$/.test(c.normalize('NFKC')));

// ---- PreTrainedTokenizer.tokenize ---------------------------------------------------------

interface AddedTokenRule {
  lstrip: boolean;
}

class SlowTokenizerBase {
  constructor(
    /** all_special_tokens, in SPECIAL_TOKENS_ATTRIBUTES order. */
    private readonly specials: string[],
    private readonly added: Map<string, AddedTokenRule>,
    private readonly doLowerCase: boolean,
  ) {}

  /** The text pieces, special tokens kept whole. */
  protected tokenize(text: string, tokenizeChunk: (chunk: string) => string[]): string[] {
    if (this.doLowerCase) {
      // re.sub("(special|...)|(.+?)", ...): one character at a time, "." never matches "\n".
      let out = '';
      for (let i = 0; i < text.length; ) {
        const special = this.specials.find((s) => text.startsWith(s, i));
        if (special) {
          out += special;
          i += special.length;
        } else {
          const c = String.fromCodePoint(text.codePointAt(i)!);
          out += c === '\n' ? c : c.toLowerCase();
          i += c.length;
        }
      }
      text = out;
    }
    // Trie.split: at each position the longest added token starting there.
    const tokens: string[] = [];
    let start = 0;
    for (let i = 0; i < text.length; ) {
      const match = [...this.added.keys()].filter((t) => text.startsWith(t, i)).sort((a, b) => b.length - a.length)[0];
      if (match) {
        tokens.push(text.slice(start, i), match);
        i += match.length;
        start = i;
      } else i++;
    }
    tokens.push(text.slice(start));
    tokens.forEach((t, i) => {
      const rule = this.added.get(t);
      if (rule?.lstrip && i > 0) tokens[i - 1] = tokens[i - 1].replace(new RegExp(`[${PY_SPACE}]+$`, 'u'), '');
    });
    return tokens.filter(Boolean).flatMap((t) => (this.added.has(t) ? [t] : tokenizeChunk(t)));
  }
}

// ---- sentencepiece -------------------------------------------------------------------------

const TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 };
const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder();

/** commonPrefixSearch over a darts-clone double array, as darts.h does it. */
function charsmapReader(blob: Uint8Array) {
  if (blob.length === 0) return undefined;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const trieSize = view.getUint32(0, true);
  const unit = (i: number) => (i * 4 + 4 < 4 + trieSize ? view.getUint32(4 + i * 4, true) : 0);
  const normalized = blob.subarray(4 + trieSize);
  const offset = (u: number) => (u >>> 10) << ((u & (1 << 9)) >>> 6);
  const label = (u: number) => u & (0x80000000 | 0xff);
  return (bytes: Uint8Array, at: number): { length: number; replacement: string } | undefined => {
    let pos = offset(unit(0));
    let best: { length: number; value: number } | undefined;
    for (let i = at; i < bytes.length; i++) {
      pos ^= bytes[i];
      const u = unit(pos);
      if (label(u) >>> 0 !== bytes[i]) break;
      pos ^= offset(u);
      if ((u >>> 8) & 1) best = { length: i - at + 1, value: unit(pos) & 0x7fffffff };
    }
    if (!best) return undefined;
    const end = normalized.indexOf(0, best.value);
    return { length: best.length, replacement: utf8Decode.decode(normalized.subarray(best.value, end)) };
  };
}

export interface SlowAlbertOptions {
  doLowerCase?: boolean;
  removeSpace?: boolean;
  keepAccents?: boolean;
}

export class SlowAlbertTokenizer extends SlowTokenizerBase {
  private readonly pieces: Array<{ piece: string; score: number; type: number }>;
  private readonly lookup = new Map<string, number>();
  private readonly reserved = new Map<string, number>();
  private readonly userDefined: string[];
  private readonly unkId: number;
  private readonly minScore: number;
  private readonly maxScore: number;
  private readonly maxPieceLength: number;
  private readonly charsmap;
  private readonly spec: { addDummyPrefix: boolean; removeExtraWhitespaces: boolean };
  private readonly options: Required<SlowAlbertOptions>;

  constructor(model: Uint8Array, options: SlowAlbertOptions = {}) {
    const o = { doLowerCase: true, removeSpace: true, keepAccents: false, ...options };
    super(['[CLS]', '[SEP]', '<unk>', '<pad>', '[MASK]'], new Map([['[CLS]', { lstrip: false }], ['[SEP]', { lstrip: false }], ['<unk>', { lstrip: false }], ['<pad>', { lstrip: false }], ['[MASK]', { lstrip: true }]]), o.doLowerCase);
    this.options = o;
    const m = MODEL_PROTO.toObject(MODEL_PROTO.decode(model), { defaults: true, bytes: Array }) as any;
    this.pieces = m.pieces.map((p: any) => ({ piece: p.piece, score: p.score, type: p.type }));
    this.pieces.forEach((p, id) => {
      if (p.type === TYPE.normal || p.type === TYPE.userDefined || p.type === TYPE.unused) this.lookup.set(p.piece, id);
      else this.reserved.set(p.piece, id);
    });
    this.userDefined = this.pieces.filter((p) => p.type === TYPE.userDefined).map((p) => p.piece);
    this.unkId = this.pieces.findIndex((p) => p.type === TYPE.unknown);
    const normal = this.pieces.filter((p) => p.type === TYPE.normal).map((p) => p.score);
    this.minScore = Math.min(...normal);
    // max_score_ starts at FLT_MIN, not at -FLT_MAX.
    this.maxScore = Math.max(1.1754943508222875e-38, ...normal);
    this.maxPieceLength = Math.max(...this.pieces.map((p) => Array.from(p.piece).length));
    const ns = m.normalizer_spec;
    this.charsmap = charsmapReader(Uint8Array.from(ns.precompiled_charsmap));
    this.spec = { addDummyPrefix: ns.add_dummy_prefix, removeExtraWhitespaces: ns.remove_extra_whitespaces };
  }

  /** Token ids without [CLS]/[SEP], as tokenizer(text, add_special_tokens=False). */
  encode(text: string): number[] {
    // The special tokens' added-token ids are their piece ids.
    return this.tokenize(text, (chunk) => this.albertTokenize(chunk)).map((t) => this.pieceToId(t));
  }

  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.lookup.get(piece) ?? this.unkId;
  }

  preprocess(text: string): string {
    let out = this.options.removeSpace ? pySplit(text).join(' ') : text;
    out = out.replaceAll('``', '"').replaceAll("''", '"');
    if (!this.options.keepAccents) out = Array.from(out.normalize('NFKD')).filter((c) => !isCombining(c)).join('');
    if (this.options.doLowerCase) out = out.toLowerCase();
    return out;
  }

  private albertTokenize(text: string): string[] {
    const pieces = this.encodeAsPieces(this.preprocess(text));
    const out: string[] = [];
    for (const piece of pieces) {
      const chars = Array.from(piece);
      if (chars.length > 1 && chars[chars.length - 1] === ',' && isDigit(chars[chars.length - 2])) {
        let cur = this.encodeAsPieces(chars.slice(0, -1).join('').replaceAll('▁', ''));
        if (chars[0] !== '▁' && cur[0][0] === '▁') {
          if (Array.from(cur[0]).length === 1) cur = cur.slice(1);
          else cur[0] = cur[0].slice(1);
        }
        out.push(...cur, ',');
      } else out.push(piece);
    }
    return out;
  }

  /** sentencepiece Normalizer::Normalize. */
  normalize(input: string): string {
    const bytes = utf8.encode(input);
    const prefix = (at: number): [string, number] => {
      const rest = utf8Decode.decode(bytes.subarray(at));
      const user = this.userDefined.filter((u) => rest.startsWith(u)).sort((a, b) => b.length - a.length)[0];
      if (user) return [user, utf8.encode(user).length];
      const rule = this.charsmap?.(bytes, at);
      if (rule) return [rule.replacement, rule.length];
      const c = String.fromCodePoint(rest.codePointAt(0)!);
      return [c, utf8.encode(c).length];
    };
    let at = 0;
    if (this.spec.removeExtraWhitespaces) {
      while (at < bytes.length) {
        const [sp, n] = prefix(at);
        if (sp !== ' ') break;
        at += n;
      }
    }
    if (at >= bytes.length) return '';
    let out = this.spec.addDummyPrefix ? '▁' : '';
    let isPrevSpace = this.spec.removeExtraWhitespaces;
    while (at < bytes.length) {
      let [sp, n] = prefix(at);
      while (isPrevSpace && sp.startsWith(' ')) sp = sp.slice(1);
      if (sp) {
        out += sp.replaceAll(' ', '▁');
        isPrevSpace = sp.endsWith(' ');
      }
      at += n;
      if (!this.spec.removeExtraWhitespaces) isPrevSpace = false;
    }
    if (this.spec.removeExtraWhitespaces) out = out.replace(/▁+$/u, '');
    return out;
  }

  /** EncodeAsPieces: normalize, lattice Viterbi, unknown runs merged. */
  encodeAsPieces(text: string): string[] {
    const chars = Array.from(this.normalize(text));
    if (chars.length === 0) return [];
    const f = Math.fround;
    const unkScore = f(this.minScore - 10);
    interface Node {
      pos: number;
      length: number;
      id: number;
      score: number;
      best: number;
      prev?: Node;
    }
    const endsAt: Node[][] = Array.from({ length: chars.length + 1 }, () => []);
    const startsAt: Node[][] = Array.from({ length: chars.length + 1 }, () => []);
    const bos: Node = { pos: 0, length: 0, id: -1, score: 0, best: 0 };
    endsAt[0].push(bos);
    for (let pos = 0; pos < chars.length; pos++) {
      let single = false;
      for (let len = 1; len <= this.maxPieceLength && pos + len <= chars.length; len++) {
        const id = this.lookup.get(chars.slice(pos, pos + len).join(''));
        if (id === undefined || this.pieces[id].type === TYPE.unused) continue;
        const score = this.pieces[id].type === TYPE.userDefined ? f(f(len * this.maxScore) - 0.1) : this.pieces[id].score;
        const node: Node = { pos, length: len, id, score, best: 0 };
        startsAt[pos].push(node);
        endsAt[pos + len].push(node);
        if (len === 1) single = true;
      }
      if (!single) {
        const node: Node = { pos, length: 1, id: this.unkId, score: unkScore, best: 0 };
        startsAt[pos].push(node);
        endsAt[pos + 1].push(node);
      }
    }
    const eos: Node = { pos: chars.length, length: 0, id: -1, score: 0, best: 0 };
    startsAt[chars.length].push(eos);
    for (let pos = 0; pos <= chars.length; pos++) {
      for (const r of startsAt[pos]) {
        let bestNode: Node | undefined;
        let best = 0;
        for (const l of endsAt[pos]) {
          const s = f(l.best + r.score);
          if (!bestNode || s > best) {
            bestNode = l;
            best = s;
          }
        }
        r.prev = bestNode;
        r.best = best;
      }
    }
    const path: Node[] = [];
    for (let n = eos.prev; n && n !== bos; n = n.prev) path.unshift(n);
    const pieces: string[] = [];
    let prevUnk = false;
    for (const n of path) {
      const surface = chars.slice(n.pos, n.pos + n.length).join('');
      const unk = n.id === this.unkId;
      if (unk && prevUnk) pieces[pieces.length - 1] += surface;
      else pieces.push(surface);
      prevUnk = unk;
    }
    return pieces;
  }
}

// ---- BertTokenizer ---------------------------------------------------------------------------

export interface SlowBertOptions {
  doLowerCase?: boolean;
  tokenizeChineseChars?: boolean;
  stripAccents?: boolean | null;
}

const isChinese = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f);
const isPunctuation = (c: string) => {
  const cp = c.codePointAt(0)!;
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) || /^\p{P}$/u.test(c);
};
const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || /^\p{Zs}$/u.test(c);
const isControl = (c: string) => !(c === '\t' || c === '\n' || c === '\r') && /^\p{C}$/u.test(c);

export class SlowBertTokenizer extends SlowTokenizerBase {
  readonly vocab = new Map<string, number>();
  private readonly options: Required<SlowBertOptions>;
  private readonly specialTokens: string[];

  constructor(vocabTxt: Uint8Array, options: SlowBertOptions = {}) {
    const o = { doLowerCase: true, tokenizeChineseChars: true, stripAccents: null, ...options };
    const specials = ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]'];
    super(specials, new Map(specials.map((s) => [s, { lstrip: false }])), o.doLowerCase);
    this.options = o;
    this.specialTokens = specials;
    // load_vocab: open(..., encoding="utf-8").readlines() with universal newlines, rstrip("\n").
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(vocabTxt).replace(/\r\n?/g, '\n');
    const lines = text.split('\n');
    if (text.endsWith('\n')) lines.pop();
    lines.forEach((token, index) => this.vocab.set(token, index));
  }

  encode(text: string): number[] {
    const unk = this.vocab.get('[UNK]')!;
    return this.tokenize(text, (chunk) => this.basic(chunk).flatMap((t) => (this.specialTokens.includes(t) ? [t] : this.wordpiece(t)))).map((t) => this.vocab.get(t) ?? unk);
  }

  private basic(text: string): string[] {
    let clean = '';
    for (const c of text) {
      const cp = c.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      clean += isWhitespace(c) ? ' ' : c;
    }
    if (this.options.tokenizeChineseChars) clean = Array.from(clean, (c) => (isChinese(c.codePointAt(0)!) ? ` ${c} ` : c)).join('');
    const split: string[] = [];
    for (let token of pySplit(clean.normalize('NFC'))) {
      if (!this.specialTokens.includes(token)) {
        const strip = (s: string) => s.normalize('NFD').replace(/\p{Mn}/gu, '');
        if (this.options.doLowerCase) {
          token = token.toLowerCase();
          if (this.options.stripAccents !== false) token = strip(token);
        } else if (this.options.stripAccents) token = strip(token);
      }
      if (this.specialTokens.includes(token)) {
        split.push(token);
        continue;
      }
      let word = '';
      for (const c of token) {
        if (isPunctuation(c)) {
          if (word) split.push(word);
          split.push(c);
          word = '';
        } else word += c;
      }
      if (word) split.push(word);
    }
    return pySplit(split.join(' '));
  }

  private wordpiece(token: string): string[] {
    const chars = Array.from(token);
    if (chars.length > 100) return ['[UNK]'];
    const out: string[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (!found) return ['[UNK]'];
      out.push(found);
      start = end;
    }
    return out;
  }
}
