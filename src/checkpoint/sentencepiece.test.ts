import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { NMT_NFKC_SAMPLE, englishAlbertModel, precompiledCharsmap, sentencePieceModelBytes } from '../../tools/checkpoint-writers/sentencepiece-model.js';
import { ModelError } from '../errors.js';
import { ProtoWriter } from '../protobuf.js';
import { PIECE_TYPE, parseSentencePieceModel, readSentencePieceModel, type SentencePieceModel } from './sentencepiece.js';

// protobufjs, with the field numbers of sentencepiece_model.proto, checks the writer on its own.
const ModelProto = protobuf
  .parse(
    `syntax = "proto2";
message ModelProto {
  message SentencePiece { optional string piece = 1; optional float score = 2; optional int32 type = 3 [default = 1]; }
  repeated SentencePiece pieces = 1;
  optional TrainerSpec trainer_spec = 2;
  optional NormalizerSpec normalizer_spec = 3;
}
message TrainerSpec {
  optional int32 model_type = 3; optional int32 vocab_size = 4; repeated string control_symbols = 30; repeated string user_defined_symbols = 31;
  optional bool byte_fallback = 35; optional int32 unk_id = 40; optional int32 bos_id = 41; optional int32 eos_id = 42; optional int32 pad_id = 43;
}
message NormalizerSpec {
  optional string name = 1; optional bytes precompiled_charsmap = 2; optional bool add_dummy_prefix = 3;
  optional bool remove_extra_whitespaces = 4; optional bool escape_whitespaces = 5;
}`,
    { keepCase: true },
  )
  .root.lookupType('ModelProto');

const MODEL = englishAlbertModel();
const BYTES = sentencePieceModelBytes(MODEL);

const piece = (text: string, type: number = PIECE_TYPE.normal, score = -1) => new ProtoWriter().string(1, text).float(2, score).varint(3, type);

describe('sentencePieceModelBytes (test writer)', () => {
  it('writes what protobufjs reads as a ModelProto', () => {
    const m = ModelProto.toObject(ModelProto.decode(BYTES), { bytes: Array }) as any;
    expect(m.pieces.length).toBe(MODEL.pieces.length);
    expect(m.pieces[4]).toEqual({ piece: '[MASK]', score: 0, type: PIECE_TYPE.control });
    expect(m.pieces[14]).toEqual({ piece: '▁the', score: Math.fround(-5), type: PIECE_TYPE.normal });
    expect(m.trainer_spec).toMatchObject({ model_type: 1, vocab_size: MODEL.pieces.length, unk_id: 1, bos_id: -1, eos_id: -1, pad_id: 0, byte_fallback: false });
    expect(m.trainer_spec.control_symbols).toEqual(['<pad>', '[CLS]', '[SEP]', '[MASK]']);
    expect(m.trainer_spec.user_defined_symbols).toEqual(['(', ')', '"', '-', '.', '–', '£', '€']);
    expect(m.normalizer_spec).toMatchObject({ name: 'nmt_nfkc', add_dummy_prefix: true, remove_extra_whitespaces: true, escape_whitespaces: true });
    expect(Uint8Array.from(m.normalizer_spec.precompiled_charsmap)).toEqual(MODEL.normalizer.precompiledCharsmap);
  });
});

describe('parseSentencePieceModel', () => {
  it('reads back every piece, score, type and spec field the writer wrote', () => {
    const parsed = parseSentencePieceModel(BYTES, 'spiece.model');
    const float32 = (m: SentencePieceModel) => m.pieces.map((p) => ({ ...p, score: Math.fround(p.score) }));
    expect(parsed.pieces).toEqual(float32(MODEL));
    expect(parsed.trainer).toEqual(MODEL.trainer);
    expect(parsed.normalizer).toEqual(MODEL.normalizer);
  });

  it("fills in the proto2 defaults for fields a model leaves out", () => {
    const bytes = new ProtoWriter().message(1, piece('<unk>', PIECE_TYPE.unknown, 0)).message(1, new ProtoWriter().string(1, '▁a')).finish();
    const parsed = parseSentencePieceModel(bytes, 'm.model');
    expect(parsed.pieces[1]).toEqual({ piece: '▁a', score: 0, type: PIECE_TYPE.normal });
    expect(parsed.trainer).toEqual({ modelType: 1, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false, treatWhitespaceAsSuffix: false });
    expect(parsed.normalizer).toEqual({ name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
  });

  it('refuses a BPE model, naming the file and the model type', () => {
    const model = sentencePieceModelBytes({ ...MODEL, trainer: { ...MODEL.trainer, modelType: 2 } });
    const call = () => parseSentencePieceModel(model, 'ckpt/spiece.model');
    expect(call).toThrow(ModelError);
    expect(call).toThrow(/ckpt\/spiece\.model is a BPE model; only UNIGRAM/);
  });

  it.each([
    ['truncated bytes', BYTES.subarray(0, 1000), /ckpt\/spiece\.model is not a valid ModelProto/],
    ['a piece type out of range', new ProtoWriter().message(1, piece('<unk>', 9)).finish(), /piece 0 \("<unk>"\) has unknown type 9/],
    ['an empty piece', new ProtoWriter().message(1, piece('', PIECE_TYPE.unknown)).finish(), /piece 0 has no text/],
    ['a score of the wrong wire type', new ProtoWriter().message(1, new ProtoWriter().string(1, 'x').varint(2, 3)).finish(), /piece 0 field 2 has wire type 0/],
    ['a piece defined twice', new ProtoWriter().message(1, piece('<unk>', PIECE_TYPE.unknown)).message(1, piece('a')).message(1, piece('a')).finish(), /defines piece "a" twice \(ids 1 and 2\)/],
    ['unk_id on a normal piece', new ProtoWriter().message(1, piece('a')).message(1, piece('<unk>', PIECE_TYPE.unknown)).finish(), /unk_id 0 is not its UNKNOWN piece/],
    ['no pieces', new ProtoWriter().finish(), /has no pieces/],
    [
      'treat_whitespace_as_suffix',
      new ProtoWriter().message(1, piece('<unk>', PIECE_TYPE.unknown)).message(2, new ProtoWriter().varint(24, true)).finish(),
      /uses treat_whitespace_as_suffix/,
    ],
  ])('refuses %s with a ModelError naming the file', (_, bytes, message) => {
    expect(() => parseSentencePieceModel(bytes, 'ckpt/spiece.model')).toThrow(ModelError);
    expect(() => parseSentencePieceModel(bytes, 'ckpt/spiece.model')).toThrow(message);
    expect(() => parseSentencePieceModel(bytes, 'ckpt/spiece.model')).toThrow(/ckpt\/spiece\.model/);
  });

  it('reads a file, and says which file cannot be read', () => {
    const dir = tempDir('spm-');
    writeFileSync(join(dir, 'spiece.model'), BYTES);
    expect(readSentencePieceModel(join(dir, 'spiece.model')).pieces.length).toBe(MODEL.pieces.length);
    expect(() => readSentencePieceModel(join(dir, 'missing.model'))).toThrow(/missing\.model cannot be read/);
  });
});

describe('precompiledCharsmap (test writer)', () => {
  /** exactMatchSearch as darts.h walks the units. */
  function lookup(blob: Uint8Array, key: string): string | undefined {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    const unit = (i: number) => (i * 4 < trieBytes ? view.getUint32(4 + i * 4, true) : 0);
    const offset = (u: number) => (u >>> 10) << ((u & 512) >>> 6);
    let pos = 0;
    let u = unit(0);
    for (const byte of new TextEncoder().encode(key)) {
      pos ^= offset(u) ^ byte;
      u = unit(pos);
      if ((u & 0x800000ff) >>> 0 !== byte) return undefined;
    }
    if (((u >>> 8) & 1) === 0) return undefined;
    const value = unit(pos ^ offset(u)) & 0x7fffffff;
    const normalized = blob.subarray(4 + trieBytes);
    return new TextDecoder().decode(normalized.subarray(value, normalized.indexOf(0, value)));
  }

  it('maps every rule and nothing else', () => {
    const blob = precompiledCharsmap(NMT_NFKC_SAMPLE);
    for (const [from, to] of NMT_NFKC_SAMPLE) expect(lookup(blob, from), JSON.stringify(from)).toBe(to);
    // Prefixes of keys, keys' neighbours and bytes that share the trie's blocks.
    for (const miss of ['a', 'e', 'ﬃ', '\u2027', '\u200a', '\u0301', 'é', '\u0000', '００']) expect(lookup(blob, miss), JSON.stringify(miss)).toBeUndefined();
  });
});
